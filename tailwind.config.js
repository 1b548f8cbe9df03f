/** @type {import('tailwindcss').Config} */
// Tailwind scans the templ sources and the Go files beside them (class names built in Go).
// The built static/dist/app.css is committed; rebuild with `npm run css`.
module.exports = {
  content: {
    files: ['./views/**/*.templ', './views/**/*.go'],
    extract: {
      // In Go files only string literals hold class names (also inside markup written by hand,
      // as in views/rows.go); scanning the code too would turn slice expressions such as
      // b[i:j] into junk "arbitrary property" rules.
      go: (content) =>
        (content.match(/"(?:[^"\\\n]|\\.)*"|`[^`]*`/g) || []).flatMap((s) => s.slice(1, -1).split(/[\s"'`\\<>=]+/)),
    },
  },
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
