import { useState } from 'preact/hooks';
import { html } from './html.js';

/**
 * Cursor paging for lists whose next cursor comes in X-Next-Cursor: the cursors of the
 * pages before this one, so "Previous" can go back.
 */
export function useCursorPages() {
  const [cursors, setCursors] = useState([]);
  return {
    cursor: cursors[cursors.length - 1],
    reset: () => setCursors([]),
    pager: (next) => html`<div class="pager">
      <button type="button" class="secondary" disabled=${!cursors.length} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
      <button type="button" class="secondary" disabled=${!next} onClick=${() => setCursors([...cursors, next])}>Next page</button>
    </div>`,
  };
}
