// Keyboard-driven labeling. In the label box, keys type; Enter saves (the form's submit), Tab takes the
// suggestion, Esc leaves the box. Elsewhere single keys act on the open cluster. Nothing fires while a
// dialog is open or while the focus is in another field (the sort selects take letters too).

const $ = (id) => document.getElementById(id);

function typingElsewhere(target) {
  return target instanceof HTMLElement && target.id !== "label-input" && target.matches("input, select, textarea");
}

/** `actions`: {next, previous, discard, flag, undo, help, acceptSuggestion, split, view, pool} */
export function wireKeys(actions) {
  $("label-input").addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      $("cluster-view").focus();
    } else if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      // Only the first Tab takes the suggestion; once the box holds it, Tab moves the focus as usual.
      if (actions.acceptSuggestion()) event.preventDefault();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || document.querySelector("dialog[open]")) return;
    if (event.target && event.target.id === "label-input") return;
    if (typingElsewhere(event.target) || event.altKey || event.metaKey) return;
    const key = event.key;
    if (event.ctrlKey) {
      if (key === "z" || key === "Z") run(event, actions.undo);
      return;
    }
    if (key === "j") run(event, actions.next);
    else if (key === "k") run(event, actions.previous);
    else if (key === "d") run(event, actions.discard);
    else if (key === "f") run(event, actions.flag);
    else if (key === "s") run(event, actions.split);
    else if (key === "v") run(event, actions.view);
    else if (key === "e") run(event, actions.pool);
    else if (key === "u") run(event, actions.undo);
    else if (key === "?") run(event, actions.help);
    else if (key === "l" || key === "/") run(event, () => $("label-input").focus());
  });
}

function run(event, action) {
  event.preventDefault();
  action();
}
