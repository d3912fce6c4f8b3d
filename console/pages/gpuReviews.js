// A GPU's ratings and reviews: the histogram, the reviews page by page, a client's review
// form, and for admins hide / restore with a reason.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { rating, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, useAction, useLoad } from '../lib/ui.js';

export function GpuReviews({ gpu, account, onChange = () => {} }) {
  const [cursor, setCursor] = useState(undefined);
  const page = useLoad(async () => (await api('GET', `/v1/marketplace/gpu/${encodeURIComponent(gpu.id)}/reviews`, { query: { limit: 10, cursor } })).body, [gpu.id, cursor]);
  const refresh = () => { setCursor(undefined); page.reload(); onChange(); };
  const p = page.data;
  return html`<div class="card wide" data-testid="reviews">
    <h2>Ratings and reviews</h2>
    <${ErrorNote} error=${page.error} />
    ${p ? html`
      <p>${rating(p.average_rating, p.total_reviews)}</p>
      <table class="histogram" data-testid="histogram">
        <caption class="sr-only">Reviews by rating</caption>
        <tbody>${['5', '4', '3', '2', '1'].map((stars) => html`<tr>
          <th scope="row">${stars} ★</th>
          <td><meter min="0" max=${Math.max(p.total_reviews, 1)} value=${p.rating_histogram[stars]} aria-label=${`${stars} stars`}></meter></td>
          <td data-stars=${stars}>${p.rating_histogram[stars]}</td>
        </tr>`)}</tbody>
      </table>
      ${account.role === 'client' ? html`<${ReviewForm} gpu=${gpu} onDone=${refresh} />` : null}
      <ul class="reviews">${p.reviews.map((r) => html`<li class=${r.hidden ? 'hidden-review' : ''}>
        <p><strong>${'★'.repeat(r.rating)}${'☆'.repeat(5 - r.rating)}</strong> <span class="sr-only">${r.rating} of 5</span>
          by ${r.user} · ${when(r.created_at)}${r.hidden ? html` · <em>hidden: ${r.moderation_reason}</em>` : null}</p>
        ${r.comment ? html`<p class="comment">${r.comment}</p>` : null}
        ${account.role === 'admin' ? html`<${Moderate} review=${r} onDone=${refresh} />` : null}
      </li>`)}</ul>
      ${p.reviews.length === 0 ? html`<p class="muted">No reviews yet.</p>` : null}
      <div class="pager">
        ${cursor ? html`<button type="button" class="secondary" onClick=${() => setCursor(undefined)}>Newest reviews</button>` : null}
        ${p.next_cursor ? html`<button type="button" class="secondary" onClick=${() => setCursor(p.next_cursor)}>Older reviews</button>` : null}
      </div>` : null}
  </div>`;
}

/** Only a client who used the GPU may review it (the API says so otherwise, as a 403 detail). */
function ReviewForm({ gpu, onDone }) {
  const [stars, setStars] = useState('5');
  const [comment, setComment] = useState('');
  const send = useAction(async () => {
    await api('POST', `/v1/marketplace/gpu/${encodeURIComponent(gpu.id)}/reviews`, { body: { rating: Number(stars), comment: comment.trim() || null } });
    setComment('');
    onDone();
    return true;
  });
  return html`<form class="review-form" onSubmit=${(e) => { e.preventDefault(); void send.run(); }}>
    <h3>Review this GPU</h3>
    <div class="field"><label for="review-rating">Rating</label>
      <select id="review-rating" value=${stars} onChange=${(e) => setStars(e.currentTarget.value)}>
        ${['5', '4', '3', '2', '1'].map((n) => html`<option value=${n}>${n} ★</option>`)}
      </select></div>
    <div class="field"><label for="review-comment">Comment</label>
      <textarea id="review-comment" maxlength="2000" rows="3" value=${comment} onInput=${(e) => setComment(e.currentTarget.value)}></textarea></div>
    <button type="submit" disabled=${send.busy}>Send review</button>
    ${send.result ? html`<p role="status">Thank you: your review is in.</p>` : null}
    <${ErrorNote} error=${send.error} />
  </form>`;
}

function Moderate({ review, onDone }) {
  const [reason, setReason] = useState('');
  const action = review.hidden ? 'restore' : 'hide';
  const act = useAction(async () => {
    await api('POST', `/v1/marketplace/reviews/${encodeURIComponent(review.review_id)}/moderation`, { body: { action, reason } });
    onDone();
  });
  const id = `reason-${review.review_id}`;
  return html`<form class="inline" onSubmit=${(e) => { e.preventDefault(); void act.run(); }}>
    <label for=${id}>Reason</label>
    <input id=${id} required maxlength="2000" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)} />
    <button type="submit" class=${action === 'hide' ? 'danger' : 'secondary'} disabled=${act.busy}>${action === 'hide' ? 'Hide' : 'Restore'}</button>
    <${ErrorNote} error=${act.error} />
  </form>`;
}
