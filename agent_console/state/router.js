// Screens by address, in the hash (no server routes, the back button works):
//   #/inbox/<view>[/<conversation id>[/<seq>]]   #/search?q=…   #/agents   #/canned   #/studio/<tab>[/<id>]
import { useEffect, useState } from "../lib/html.js";

export const SCREENS_BY_ROLE = {
  agent: ["inbox", "search"],
  admin: ["inbox", "search", "agents", "canned", "studio"],
  marketer: ["studio"],
};

export function landing(role) {
  return (SCREENS_BY_ROLE[role] || ["studio"])[0];
}

export function parse(hash = location.hash) {
  const [path, search = ""] = hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return {
    screen: parts[0] || "",
    view: parts[1] || "",
    conversation: parts[2] || null,
    seq: parts[3] ? Number(parts[3]) : null,
    params: new URLSearchParams(search),
  };
}

export function inboxPath(view, conversation = null, seq = null) {
  let path = `#/inbox/${view}`;
  if (conversation) path += `/${encodeURIComponent(conversation)}`;
  if (conversation && seq) path += `/${seq}`;
  return path;
}

// pushState rather than `location.hash =`: the same history entry and back button, without the
// browser's search for an anchor of that name (a third of a conversation switch's script time).
export function go(path) {
  if (location.hash === path) return;
  history.pushState(null, "", path);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function replace(path) {
  if (location.hash !== path) history.replaceState(null, "", path);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function useRoute() {
  const [route, setRoute] = useState(() => parse());
  useEffect(() => {
    const changed = () => setRoute(parse());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}
