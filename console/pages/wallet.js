// Balance and ledger: GET /v1/accounts/me/balance and /v1/accounts/me/ledger (newest first, paged).
import { api } from '../lib/api.js';
import { useCursorPages } from '../lib/cursorPages.js';
import { money, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, useLoad } from '../lib/ui.js';

export function Wallet() {
  const balance = useLoad(async () => (await api('GET', '/v1/accounts/me/balance')).body, []);
  const pages = useCursorPages();
  const ledger = useLoad(async () => {
    const { body, headers } = await api('GET', '/v1/accounts/me/ledger', { query: { limit: 20, cursor: pages.cursor } });
    return { entries: body, next: headers.get('X-Next-Cursor') };
  }, [pages.cursor]);
  const b = balance.data;
  return html`<section>
    <h1 tabindex="-1">Balance</h1>
    <${ErrorNote} error=${balance.error} />
    ${b ? html`<dl class="figures" data-testid="balance">
      <div><dt>Available</dt><dd data-testid="available">${money(b.available)}</dd></div>
      <div><dt>Held for bookings</dt><dd>${money(b.held)}</dd></div>
      <div><dt>Earnings</dt><dd>${money(b.earnings)}</dd></div>
    </dl>` : null}
    <h2>Ledger</h2>
    <${ErrorNote} error=${ledger.error} />
    ${ledger.data ? html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Bucket</th><th scope="col">Amount</th><th scope="col">Booking</th><th scope="col">Reference</th></tr></thead>
      <tbody>${ledger.data.entries.map((e) => html`<tr>
        <td>${when(e.created_at)}</td><td>${e.kind}</td><td>${e.bucket}</td><td class="num">${money(e.amount)}</td><td>${e.booking_id ?? '—'}</td><td>${e.reference ?? '—'}</td>
      </tr>`)}</tbody>
    </table></div>
    ${ledger.data.entries.length === 0 ? html`<p>No entries yet.</p>` : null}
    ${pages.pager(ledger.data.next)}` : null}
  </section>`;
}
