/** @type {import('tailwindcss').Config} */
// Tailwind scans the templ sources and the Go files beside them (class names built in Go).
// The built static/dist/app.css is committed; rebuild with `npm run css`.
module.exports = {
  content: ['./views/**/*.templ', './views/**/*.go'],
  darkMode: 'media',
  theme: {
    extend: {
      fontFamily: {
        sans: ['ui-sans-serif', 'system-ui', '-apple-system', 'BlinkMacSystemFont', '"Segoe UI"', 'Roboto',
          '"Helvetica Neue"', 'Arial', '"Noto Sans"', 'sans-serif', '"Apple Color Emoji"', '"Segoe UI Emoji"'],
        mono: ['ui-monospace', 'SFMono-Regular', 'Menlo', 'Monaco', 'Consolas', '"Liberation Mono"',
          '"Courier New"', 'monospace'],
      },
    },
  },
  plugins: [],
};
