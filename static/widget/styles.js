// The widget's look, inside its shadow root: the page's CSS cannot reach in, nor ours out.
// Colours meet WCAG AA on their backgrounds; --accent is the shop's (white text is drawn on it).
// On a phone (the loader sets data-phone on the host by the visible width, so also on a page laid
// out wider than the screen, which a media query would take for a desktop) the panel is the screen.
export const STYLE = `
:host{all:initial}
*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0}
button,input,textarea{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.panel{position:fixed;bottom:calc(88px + var(--vv-bottom,0px) + env(safe-area-inset-bottom));width:370px;height:600px;max-height:calc(100vh - 110px);
 background:#fff;color:#1c1c1e;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.22);display:flex;flex-direction:column;
 overflow:hidden;z-index:3;font-size:14px;line-height:1.4;text-align:left}
.right{right:calc(20px + var(--vv-right,0px))}.left{left:calc(20px + var(--vv-left,0px))}
.top{background:var(--accent);color:#fff;padding:12px 12px 10px 16px;display:flex;gap:10px;align-items:center}
.top h2{font-size:16px;font-weight:600}
.top p{font-size:12px}
.top .who{flex:1;min-width:0}
.x{border:0;background:transparent;color:#fff;width:36px;height:36px;border-radius:8px;font-size:22px;line-height:1}
.x:hover{background:rgba(255,255,255,.15)}
.avatar{flex:none;width:32px;height:32px;border-radius:50%;background:#fff;color:var(--accent);font-weight:700;display:flex;
 align-items:center;justify-content:center;font-size:15px}
.row .avatar{width:26px;height:26px;font-size:12px;background:#e4e4e7;color:#27272a}
.tabs{display:flex;border-bottom:1px solid #e4e4e7;background:#fff}
.tabs button{flex:1;border:0;background:none;padding:9px 4px;font-size:13px;color:#52525b;border-bottom:2px solid transparent}
.tabs [aria-selected=true]{color:#18181b;border-bottom-color:var(--accent);font-weight:600}
.count{display:inline-block;min-width:18px;padding:0 5px;margin-left:4px;border-radius:9px;background:#c2272d;color:#fff;font-size:11px;line-height:18px}
.pane{flex:1;min-height:0;display:flex;flex-direction:column}
.view{flex:1;min-height:0;display:flex;flex-direction:column;background:#f7f7f8}
.scroll{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:12px;display:flex;flex-direction:column;gap:6px}
.intro{background:#fff;border:1px solid #e4e4e7;border-radius:12px;padding:12px;color:#3f3f46}
.intro strong{display:block;color:#18181b;margin-bottom:2px}
.day,.system,.marker{align-self:center;font-size:12px;color:#52525b;margin:6px 0}
.marker{align-self:stretch;text-align:center;color:#b91c1c;border-top:1px solid #fca5a5;line-height:0;margin:12px 0}
.marker span{background:#f7f7f8;padding:0 8px}
.row{display:flex;gap:6px;align-items:flex-end}
.row.customer{justify-content:flex-end}
.msg{max-width:80%;padding:8px 11px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}
.customer .msg{background:var(--accent);color:#fff;border-bottom-right-radius:4px}
.agent .msg{background:#fff;border:1px solid #e4e4e7;border-bottom-left-radius:4px}
.msg a{color:inherit;text-decoration:underline}
.msg .name{display:block;font-size:12px;font-weight:600;color:#3f3f46;margin-bottom:2px}
.msg time,.msg .state{display:block;font-size:11px;margin-top:3px;text-align:right;opacity:.85}
.pending{opacity:.7}.failed{background:#fee2e2!important;color:#7f1d1d!important}
.seen{align-self:flex-end;font-size:11px;color:#52525b}
.typing{min-height:18px;padding:0 14px 4px;font-size:12px;color:#52525b;background:#f7f7f8}
.composer{border-top:1px solid #e4e4e7;background:#fff;padding:10px;display:flex;flex-direction:column;gap:8px}
.line{display:flex;gap:8px;align-items:flex-end}
textarea,input[type=email],input[type=text]{width:100%;border:1px solid #a1a1aa;border-radius:10px;padding:8px 10px;font-size:16px;background:#fff}
textarea{resize:none;height:40px;max-height:120px}
.primary{border:0;border-radius:10px;background:var(--accent);color:#fff;padding:9px 14px;font-weight:600}
.primary:disabled{opacity:.6;cursor:default}
.ghost{border:1px solid #a1a1aa;background:#fff;border-radius:10px;padding:7px 12px}
.note{font-size:12px;color:#3f3f46}
.error{font-size:12px;color:#b91c1c}
label.check{display:flex;gap:6px;align-items:center;font-size:13px}
.closedbar{padding:12px;border-top:1px solid #e4e4e7;background:#fff;display:flex;flex-direction:column;gap:8px;align-items:stretch}
.survey{background:#fff;border:1px solid #e4e4e7;border-radius:12px;padding:12px;display:flex;flex-direction:column;gap:8px}
.scale{display:flex;gap:6px;flex-wrap:wrap}
.scale button{min-width:40px;height:40px;border:1px solid #a1a1aa;border-radius:10px;background:#fff}
.scale [aria-pressed=true]{background:var(--accent);border-color:var(--accent);color:#fff}
.item{background:#fff;border:1px solid #e4e4e7;border-radius:12px;padding:10px 12px;display:flex;flex-direction:column;gap:4px}
.kind{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#52525b}
.item strong{font-size:14px}
.item button.open{align-self:flex-start}
.voucher{display:inline-flex;align-items:center;gap:6px;background:#fef3c7;border:1px dashed #b45309;border-radius:8px;padding:2px 4px 2px 8px;
 font-family:ui-monospace,monospace;color:#78350f;font-weight:600;white-space:nowrap}
.voucher button{border:0;background:#78350f;color:#fff;border-radius:6px;padding:3px 8px;font:600 12px system-ui,sans-serif}
.meta{font-size:12px;color:#52525b}
.switch{display:flex;justify-content:space-between;align-items:center;gap:8px;padding:10px 12px;background:#fff;border-top:1px solid #e4e4e7}
.thread{text-align:left;border:1px solid #e4e4e7;background:#fff;border-radius:12px;padding:10px 12px;display:flex;flex-direction:column;gap:2px}
.thread .preview{color:#3f3f46;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:100%}
.card{position:fixed;bottom:calc(90px + var(--vv-bottom,0px) + env(safe-area-inset-bottom));width:300px;max-width:calc(100vw - 40px);background:#fff;color:#1c1c1e;
 border-radius:14px;box-shadow:0 10px 30px rgba(0,0,0,.22);padding:12px 12px 12px 14px;z-index:3;font-size:14px;line-height:1.4;
 display:flex;flex-direction:column;gap:6px;animation:rise .2s ease-out}
.card .x{position:absolute;top:4px;right:4px;color:#52525b;width:32px;height:32px}
.card .x:hover{background:#f4f4f5}
.card strong{padding-right:28px}
.card .actions{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
@keyframes rise{from{transform:translateY(8px);opacity:0}}
@media (prefers-reduced-motion:reduce){.card{animation:none}}
:host([data-phone]) .panel{top:var(--vv-top,0px);bottom:auto;left:var(--vv-left,0px);right:auto;width:var(--vv-width,100vw);
 height:var(--vv-height,100dvh);max-height:none;border-radius:0;padding:env(safe-area-inset-top) env(safe-area-inset-right) 0 env(safe-area-inset-left)}
:host([data-phone]) .composer{padding-bottom:calc(10px + env(safe-area-inset-bottom))}
:host([data-phone]) .card{left:calc(20px + var(--vv-left,0px));right:calc(20px + var(--vv-right,0px));width:auto;max-width:none}
`;
