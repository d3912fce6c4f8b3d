// Admin: a GPU's reviews, hidden ones included, each with hide / restore and a reason.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { html } from '../lib/html.js';
import { ErrorNote, useLoad } from '../lib/ui.js';
import { GpuReviews } from './gpuReviews.js';

export function Moderation({ account }) {
  const [draft, setDraft] = useState('');
  const [id, setId] = useState(undefined);
  const gpu = useLoad(async () => (id ? (await api('GET', `/v1/marketplace/gpu/${encodeURIComponent(id)}`)).body : undefined), [id]);
  return html`<section>
    <h1 tabindex="-1">Moderation</h1>
    <form class="inline card" onSubmit=${(e) => { e.preventDefault(); if (draft.trim()) setId(draft.trim()); }}>
      <label for="mod-gpu">GPU id</label>
      <input id="mod-gpu" required value=${draft} onInput=${(e) => setDraft(e.currentTarget.value)} placeholder="gpu_…" />
      <button type="submit">Show its reviews</button>
    </form>
    <p class="muted">A GPU's id is on its page (GPUs → a GPU).</p>
    <${ErrorNote} error=${gpu.error} />
    ${gpu.data ? html`<h2>${gpu.data.model} <small class="muted">${gpu.data.id}</small></h2><${GpuReviews} gpu=${gpu.data} account=${account} />` : null}
  </section>`;
}
