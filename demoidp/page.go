package demoidp

// pageHTML is the provider's only page: the persona chooser, the signed-out notice and errors.
const pageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{if .SignedOut}}Signed out{{else if .Error}}Sign-in error{{else}}Choose who to sign in as{{end}} · Demo identity provider</title>
<style>
  :root { color-scheme: light dark; --bg:#f4f5f7; --card:#fff; --text:#1b1f24; --muted:#5b6470; --line:#d9dde3; --accent:#3451b2; --accent-bg:#eef1fb; }
  @media (prefers-color-scheme: dark) { :root { --bg:#111418; --card:#1b1f24; --text:#e8eaed; --muted:#a4acb6; --line:#353b44; --accent:#8fa6ff; --accent-bg:#232a40; } }
  * { box-sizing: border-box; }
  body { margin:0; min-height:100vh; display:flex; align-items:center; justify-content:center; background:var(--bg); color:var(--text);
         font:16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; padding:24px; }
  .card { width:100%; max-width:560px; background:var(--card); border:1px solid var(--line); border-radius:14px; padding:28px 28px 20px; box-shadow:0 8px 28px rgba(0,0,0,.08); }
  h1 { font-size:1.35rem; margin:0 0 4px; }
  .sub { color:var(--muted); margin:0 0 20px; }
  .note { font-size:.875rem; color:var(--muted); background:var(--accent-bg); border-radius:8px; padding:10px 12px; margin:0 0 20px; }
  form { margin:0 0 12px; }
  button.persona { width:100%; text-align:left; display:block; cursor:pointer; background:var(--card); color:var(--text);
         border:1px solid var(--line); border-radius:10px; padding:14px 16px; font:inherit; }
  button.persona:hover { border-color:var(--accent); background:var(--accent-bg); }
  button.persona:focus-visible, a:focus-visible, button.link:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
  .name { font-weight:600; font-size:1.05rem; white-space:nowrap; margin-right:8px; }
  .email { display:inline-block; max-width:100%; overflow-wrap:anywhere; font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:.875rem; color:var(--muted); }
  .groups { margin:6px 0 4px; display:flex; flex-wrap:wrap; gap:6px; }
  .group { font-size:.75rem; border:1px solid var(--line); border-radius:999px; padding:1px 8px; color:var(--muted); }
  .desc { font-size:.9rem; }
  button.link { background:none; border:none; color:var(--accent); font:inherit; cursor:pointer; padding:4px 0; text-decoration:underline; }
  a { color:var(--accent); }
  .brand { font-size:.8rem; letter-spacing:.06em; text-transform:uppercase; color:var(--muted); margin-bottom:8px; }
  @media (max-width: 480px) { body { padding:12px; align-items:flex-start; } .card { padding:20px 16px 12px; } }
</style>
</head>
<body>
<main class="card">
  <div class="brand">Demo identity provider</div>
{{- if .Error}}
  <h1 data-testid="idp-error">Sign-in request refused</h1>
  <p class="sub">{{.Error}}</p>
{{- else if .SignedOut}}
  <h1 data-testid="idp-signed-out">You are signed out of the demo provider</h1>
  <p class="sub">You can close this tab.</p>
{{- else}}
  <h1>Choose who to sign in as</h1>
  <p class="sub">Pick a persona to see SMTP Desk through their eyes.</p>
  <p class="note">SMTP Desk demo sign-in: this page stands in for your company's identity provider.</p>
  {{- range .Personas}}
  <form method="post" action="authorize">
    {{template "params" $.Params}}
    <input type="hidden" name="persona" value="{{.ID}}">
    <button type="submit" class="persona" data-testid="persona-{{.ID}}">
      <span class="name">{{.Name}}</span><span class="email">{{.Email}}</span>
      <span class="groups">{{range .Groups}}<span class="group">{{.}}</span>{{else}}<span class="group">no groups</span>{{end}}</span>
      <span class="desc">{{.Description}}</span>
    </button>
  </form>
  {{- end}}
  <form method="post" action="authorize">
    {{template "params" .Params}}
    <button type="submit" class="link" name="cancel" value="1" data-testid="persona-cancel">Cancel sign-in</button>
  </form>
{{- end}}
</main>
</body>
</html>
{{define "params" -}}
<input type="hidden" name="client_id" value="{{.ClientID}}">
    <input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
    <input type="hidden" name="response_type" value="{{.ResponseType}}">
    <input type="hidden" name="scope" value="{{.Scope}}">
    <input type="hidden" name="state" value="{{.State}}">
    <input type="hidden" name="nonce" value="{{.Nonce}}">
    <input type="hidden" name="code_challenge" value="{{.Challenge}}">
    <input type="hidden" name="code_challenge_method" value="{{.ChallengeMethod}}">
{{- end}}
`
