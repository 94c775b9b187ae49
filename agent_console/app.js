// The console's entry: who is logged in decides the screens (agents and admins the inbox,
// marketers the studio); nobody is sent back to the login form without a word.
import { api } from "./lib/api.js";
import { html, render, useEffect, useState } from "./lib/html.js";
import { Login } from "./screens/login.js";
import { Workspace } from "./screens/workspace.js";

function App() {
  const [me, setMe] = useState(undefined); // undefined: asking; null: not logged in
  const [notice, setNotice] = useState("");
  useEffect(() => {
    api("GET", "/api/v1/session").then(
      (session) => setMe(session.agent),
      () => setMe(null),
    );
  }, []);
  if (me === undefined) return html`<div class="splash" aria-busy="true">Rapport</div>`;
  if (me === null) return html`<${Login} notice=${notice} onLoggedIn=${(agent) => { setNotice(""); setMe(agent); }} />`;
  const loggedOut = (why = "") => {
    setNotice(why);
    setMe(null);
  };
  return html`<${Workspace} key=${me.id} me=${me} onLoggedOut=${loggedOut} />`;
}

render(html`<${App} />`, document.getElementById("root"));
