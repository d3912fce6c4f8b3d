// Booking a GPU as a client: a quote first (dry run), then the booking at that price at
// most, then confirm and release (the refund shown, with the balance after it).
import { useState } from 'preact/hooks';
import { api, idempotencyKey } from '../lib/api.js';
import { money, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, Field, useAction } from '../lib/ui.js';

const path = (gpu, action) => `/v1/marketplace/gpu/${encodeURIComponent(gpu.id)}/${action}`;

export function BookPanel({ gpu, onChange }) {
  const [hours, setHours] = useState('1');
  const [quote, setQuote] = useState(undefined);
  const [released, setReleased] = useState(undefined);
  // The booking as the API answered it: the GPU's own view catches up a moment later (the
  // registry learns of bookings from events), and a stale view must not undo a release.
  const [mine, setMine] = useState(undefined);
  const ask = useAction(async () => {
    setReleased(undefined);
    const { body } = await api('POST', path(gpu, 'book'), { query: { dry_run: true }, body: { duration_hours: Number(hours) } });
    setQuote(body);
  });
  const book = useAction(async () => {
    // The quoted total is the most we agree to pay: a higher price by now is a 409 with a new quote.
    const { body } = await api('POST', path(gpu, 'book'), { body: { duration_hours: quote.duration_hours, total_cost: quote.total_cost }, headers: { 'Idempotency-Key': idempotencyKey() } });
    setMine(body);
    setQuote(undefined);
    onChange();
  });
  const confirm = useAction(async () => { setMine((await api('POST', path(gpu, 'confirm'))).body); onChange(); });
  const release = useAction(async () => {
    const before = (await api('GET', '/v1/accounts/me/balance')).body;
    const { body } = await api('POST', path(gpu, 'release'));
    setReleased({ ...body, balance: undefined });
    setMine(undefined);
    onChange();
    // The ledger settles the release a moment after it answers: show the balance once it moved.
    let balance = before;
    for (let i = 0; i < 20 && balance.available === before.available; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      balance = (await api('GET', '/v1/accounts/me/balance')).body;
    }
    setReleased({ ...body, balance });
  });
  const shown = mine ?? gpu.current_booking;
  const booking = shown?.status === 'active' && shown.booking_id !== released?.booking_id ? shown : undefined;
  return html`<div class="card" data-testid="book-panel">
    <h2>Book</h2>
    ${released ? html`<div class="note" role="status" data-testid="released">
        <p>Released. Charged ${money(released.charged)}, refunded <strong data-testid="refund">${money(released.refund)}</strong>.</p>
        ${released.balance ? html`<p>Your balance: <strong data-testid="balance-after">${money(released.balance.available)}</strong> available, ${money(released.balance.held)} held.</p>`
          : html`<p class="muted">Updating your balance…</p>`}
      </div>` : null}
    ${booking ? html`<div data-testid="booking">
        <p>You hold booking <code>${booking.booking_id}</code>: ${booking.duration_hours} h until ${when(booking.end_time)},
          ${money(booking.total_cost)} at most. ${booking.confirmed_at ? html`Confirmed ${when(booking.confirmed_at)}.` : 'Not confirmed yet.'}</p>
        <div class="actions">
          ${booking.confirmed_at ? null : html`<button type="button" onClick=${() => confirm.run()} disabled=${confirm.busy}>Confirm booking</button>`}
          <button type="button" class="danger" onClick=${() => release.run()} disabled=${release.busy}>Release now</button>
        </div>
      </div>` : html`<form onSubmit=${(e) => { e.preventDefault(); void ask.run(); }}>
        <${Field} label="Hours" id="book-hours" type="number" min="0.01" max="720" step="any" required value=${hours}
          onInput=${(e) => { setHours(e.currentTarget.value); setQuote(undefined); }} />
        <button type="submit" class="secondary" disabled=${ask.busy}>Get a quote</button>
      </form>`}
    ${quote && !booking ? html`<div class="quote" role="status" data-testid="quote">
        <p>${quote.duration_hours} h at ${money(quote.price_per_hour)} per hour: <strong data-testid="quote-total">${money(quote.total_cost)}</strong>
          ${quote.pricing?.multiplier && quote.pricing.multiplier !== 1 ? html` (listed ${money(quote.pricing.listed_price)}, demand ×${quote.pricing.multiplier})` : null}.</p>
        <p>From ${when(quote.start_time)} to ${when(quote.end_time)}.</p>
        ${quote.would_succeed ? html`<button type="button" onClick=${() => book.run()} disabled=${book.busy}>Book for ${money(quote.total_cost)}</button>`
          : html`<p class="error">It would not go through: ${quote.reason}</p>`}
      </div>` : null}
    <${ErrorNote} error=${ask.error ?? book.error ?? confirm.error ?? release.error} />
  </div>`;
}
