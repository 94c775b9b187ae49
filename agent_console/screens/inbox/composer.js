// The composer: Reply and Private note as two tabs that look different (a note is yellow and
// says only agents see it), Enter sends and Shift+Enter starts a new line, '/' opens the canned
// replies, the up arrow in an empty composer edits one's last message.
import { html, useEffect, useRef, useState } from "../../lib/html.js";
import { CannedPicker, matching } from "./canned-picker.js";

const SLASH = /(^|\s)\/([^\s/]*)$/;
const TYPING_EVERY_MS = 3000;

export function Composer({ inbox, id, editing, onEditLast, onEditDone, maxChars }) {
  const [mode, setMode] = useState(inbox.composerMode.get(id) || "reply");
  const [text, setText] = useState(() => inbox.drafts.get(id) || "");
  const [picker, setPicker] = useState(null); // { filter, active, start } while open
  const [replies, setReplies] = useState(inbox.replies);
  const [pickerError, setPickerError] = useState("");
  const area = useRef(null);
  const lastTyping = useRef(0);

  useEffect(() => {
    if (editing) {
      setText(editing.text);
      area.current?.focus();
    }
  }, [editing]);

  const remember = (value, newMode = mode) => {
    inbox.drafts.set(id, value);
    inbox.composerMode.set(id, newMode);
  };

  const change = (value, caret) => {
    setText(value);
    remember(value);
    const match = SLASH.exec(value.slice(0, caret));
    if (match) {
      setPicker({ filter: match[2], active: 0, start: caret - match[2].length - 1 });
      if (replies === null) {
        inbox.cannedReplies().then(setReplies, (e) => setPickerError(e.message));
      }
    } else if (picker) {
      setPicker(null);
    }
    const now = Date.now();
    if (mode === "reply" && !editing && value && now - lastTyping.current > TYPING_EVERY_MS) {
      lastTyping.current = now; // a private note is never announced to the customer as typing
      inbox.typingNow(id, true);
    }
  };

  const pick = async (reply) => {
    const { start } = picker;
    const caret = area.current.selectionStart;
    setPicker(null);
    let rendered;
    try {
      rendered = await inbox.renderReply(reply.id, id);
    } catch (error) {
      inbox.toast(`Canned reply /${reply.shortcut}: ${error.message}`, "error");
      return;
    }
    const value = text.slice(0, start) + rendered + text.slice(caret);
    setText(value);
    remember(value);
    requestAnimationFrame(() => {
      const el = area.current;
      if (!el) return;
      el.focus();
      el.selectionStart = el.selectionEnd = start + rendered.length;
    });
  };

  const submit = () => {
    const value = text.trim();
    if (!value) return;
    if (editing) {
      inbox.edit(id, editing.seq, value);
      onEditDone();
    } else {
      inbox.send(id, value, { note: mode === "note" });
      lastTyping.current = 0;
    }
    setText("");
    remember("", "reply");
    if (mode === "note") setMode("reply"); // a note is one-off: the next words go to the customer
  };

  const keydown = (e) => {
    if (picker) {
      const shown = replies ? matching(replies, picker.filter).slice(0, 8) : [];
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const step = e.key === "ArrowDown" ? 1 : -1;
        setPicker({ ...picker, active: (picker.active + step + shown.length) % Math.max(shown.length, 1) });
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && shown.length) {
        e.preventDefault();
        pick(shown[Math.min(picker.active, shown.length - 1)]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        setPicker(null);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === "ArrowUp" && !text && !editing) {
      if (onEditLast()) e.preventDefault();
    } else if (e.key === "Escape") {
      if (editing) {
        onEditDone();
        setText("");
        remember("");
      } else {
        area.current.blur();
      }
    }
  };

  const choose = (next) => {
    setMode(next);
    remember(text, next);
    area.current?.focus();
  };

  const note = mode === "note" && !editing;
  return html`
    <form class=${`composer ${note ? "note" : "reply"} ${editing ? "editing" : ""}`} data-testid="composer" data-mode=${editing ? "edit" : mode}
      onSubmit=${(e) => { e.preventDefault(); submit(); }}>
      <div class="tabs" role="tablist" aria-label="Write">
        <button type="button" role="tab" aria-selected=${mode === "reply" ? "true" : "false"} data-testid="composer-tab-reply"
          class=${mode === "reply" ? "current" : ""} onClick=${() => choose("reply")}>Reply</button>
        <button type="button" role="tab" aria-selected=${mode === "note" ? "true" : "false"} data-testid="composer-tab-note"
          class=${mode === "note" ? "current" : ""} onClick=${() => choose("note")}>Private note</button>
        <span class="hint">${editing ? "Editing your message · Esc to cancel" : note ? "Only agents see notes" : "Enter sends · Shift+Enter new line · / canned replies"}</span>
      </div>
      ${picker && html`<${CannedPicker} replies=${replies} filter=${picker.filter} active=${picker.active} onPick=${pick} error=${pickerError} />`}
      <div class="write">
        <textarea ref=${area} data-testid="composer-input" rows="3" maxlength=${maxChars} value=${text}
          aria-label=${editing ? "Edit your message" : note ? "Private note (agents only)" : "Reply to the customer"}
          placeholder=${note ? "A note for your colleagues: the customer never sees it" : "Reply to the customer…"}
          onInput=${(e) => change(e.target.value, e.target.selectionStart)} onKeyDown=${keydown}
          onBlur=${() => setTimeout(() => setPicker(null), 150)}></textarea>
        <button type="submit" data-testid="composer-send" disabled=${!text.trim()}>${editing ? "Save" : note ? "Add note" : "Send"}</button>
      </div>
    </form>`;
}
