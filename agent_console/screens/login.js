// The login form: e-mail and password, the server's reason when it refuses.
import { api } from "../lib/api.js";
import { html, useState } from "../lib/html.js";

export function Login({ notice, onLoggedIn }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    setBusy(true);
    try {
      const session = await api("POST", "/api/v1/session", { email: form.get("email"), password: form.get("password") });
      onLoggedIn(session.agent);
    } catch (err) {
      setError(err.message || "Could not log in");
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="login">
      <form onSubmit=${submit} aria-labelledby="login-title">
        <h1 id="login-title">Rapport</h1>
        ${notice && html`<p class="notice" role="status">${notice}</p>`}
        <label>E-mail <input data-testid="login-email" type="email" name="email" autocomplete="username" required /></label>
        <label>Password <input data-testid="login-password" type="password" name="password" autocomplete="current-password" required /></label>
        <button data-testid="login-submit" type="submit" disabled=${busy}>Log in</button>
        <p class="error" role="alert">${error}</p>
      </form>
    </main>`;
}
