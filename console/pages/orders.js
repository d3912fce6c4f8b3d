// Orders: a client's own, a provider's on its GPUs, admin all; a client releases an active one here.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useCursorPages } from '../lib/cursorPages.js';
import { money, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, Select, useAction, useLoad } from '../lib/ui.js';

const STATUSES = [['', 'Any status'], ['active', 'active'], ['completed', 'completed'], ['released', 'released'], ['cancelled', 'cancelled']];

export function Orders({ account }) {
  const [status, setStatus] = useState('');
  const pages = useCursorPages();
  const orders = useLoad(async () => {
    const { body, headers } = await api('GET', '/v1/marketplace/orders', { query: { status, limit: 20, cursor: pages.cursor } });
    return { orders: body, next: headers.get('X-Next-Cursor') };
  }, [status, pages.cursor]);
  const release = useAction(async (order) => {
    const { body } = await api('POST', `/v1/marketplace/bookings/${encodeURIComponent(order.booking_id)}/release`);
    orders.reload();
    return body;
  });
  return html`<section>
    <h1 tabindex="-1">Orders</h1>
    <${Select} label="Status" id="orders-status" value=${status} options=${STATUSES} onChange=${(e) => { pages.reset(); setStatus(e.currentTarget.value); }} />
    ${release.result ? html`<p class="note" role="status">Released ${release.result.booking_id}: charged ${money(release.result.charged)}, refunded ${money(release.result.refund)}.</p>` : null}
    <${ErrorNote} error=${orders.error ?? release.error} />
    ${orders.data ? html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Order</th><th scope="col">GPU</th><th scope="col">Status</th><th scope="col">Hours</th>
        <th scope="col">Total</th><th scope="col">Charged</th><th scope="col">Refund</th><th scope="col">Created</th>${account.role === 'client' ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : null}</tr></thead>
      <tbody>${orders.data.orders.map((o) => html`<tr data-order=${o.order_id}>
        <td>${o.order_id}${account.role !== 'client' ? html`<br /><small class="muted">client ${o.client_id}</small>` : null}</td>
        <td><a href=${`#/gpus/${encodeURIComponent(o.gpu_id)}`}>${o.gpu_model}</a></td>
        <td>${o.status}</td><td>${o.duration_hours}</td><td>${money(o.total_cost)}</td><td>${money(o.charged)}</td><td>${money(o.refund)}</td><td>${when(o.created_at)}</td>
        ${account.role === 'client' ? html`<td>${o.status === 'active' ? html`<button type="button" class="danger" disabled=${release.busy} onClick=${() => release.run(o)}>Release</button>` : null}</td>` : null}
      </tr>`)}</tbody>
    </table></div>
    ${orders.data.orders.length === 0 ? html`<p>No orders.</p>` : null}
    ${pages.pager(orders.data.next)}` : null}
  </section>`;
}
