import { useCallback, useEffect, useState } from 'preact/hooks';
import { html } from './html.js';

/** An error as the API said it (its problem+json detail), announced to screen readers. */
export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message ?? String(error)}</p>`;
}

/** A labelled input; `type`, `value`, `onInput` and the rest go to the input. */
export function Field({ label, id, hint, ...input }) {
  const name = id ?? label.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return html`<div class="field">
    <label for=${name}>${label}</label>
    <input id=${name} name=${name} ...${input} />
    ${hint ? html`<small>${hint}</small>` : null}
  </div>`;
}

/** A labelled select of [value, text] pairs. */
export function Select({ label, id, options, ...select }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} name=${id} ...${select}>${options.map(([value, text]) => html`<option value=${value}>${text}</option>`)}</select>
  </div>`;
}

export const StatusBadge = ({ status }) => html`<span class="badge status-${status}" data-status=${status}>${status}</span>`;

/**
 * Loads something asynchronously: { data, error, loading, reload }. `deps` reload it;
 * the load that finishes last for the latest deps wins (earlier ones are dropped).
 */
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ data, error: undefined, loading: false }),
      (error) => current && setState({ data: undefined, error, loading: false }),
    );
    return () => { current = false; };
  }, [...deps, round]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { ...state, reload };
}

/** Runs an action from a button or form: { run, busy, error, result }. */
export function useAction(action) {
  const [state, setState] = useState({ busy: false, error: undefined, result: undefined });
  const run = async (...args) => {
    setState({ busy: true, error: undefined, result: undefined });
    try {
      const result = await action(...args);
      setState({ busy: false, error: undefined, result });
      return result;
    } catch (error) {
      setState({ busy: false, error, result: undefined });
      return undefined;
    }
  };
  return { ...state, run };
}

/** Calls `fn` every `ms` while `active`. */
export function useInterval(fn, ms, active = true) {
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  }, [ms, active]);
}

/** A form's submit handler that never reloads the page. */
export const onSubmit = (fn) => (event) => {
  event.preventDefault();
  fn(new FormData(event.currentTarget));
};
