// Admin: create accounts, look one up (balance), its keys (create: the secret shown once;
// revoke), and deposits. The API has no list of accounts, so accounts are looked up by id.
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { money, when } from '../lib/format.js';
import { html } from '../lib/html.js';
import { ErrorNote, Field, Select, useAction, useLoad } from '../lib/ui.js';

const enc = encodeURIComponent;

export function AdminAccounts() {
  const [lookup, setLookup] = useState('');
  const [id, setId] = useState(undefined);
  const [create, setCreate] = useState({ role: 'client', account_id: '', display_name: '' });
  const created = useAction(async () => {
    const { body } = await api('POST', '/v1/accounts', { body: { role: create.role, account_id: create.account_id || undefined, display_name: create.display_name || undefined } });
    setId(body.account_id);
    return body;
  });
  return html`<section>
    <h1 tabindex="-1">Accounts</h1>
    <div class="grid">
      <form class="card" onSubmit=${(e) => { e.preventDefault(); if (lookup.trim()) setId(lookup.trim()); }}>
        <h2>Find an account</h2>
        <${Field} label="Account id" id="acct-lookup" required value=${lookup} onInput=${(e) => setLookup(e.currentTarget.value)} />
        <button type="submit">Open</button>
      </form>
      <form class="card" onSubmit=${(e) => { e.preventDefault(); void created.run(); }}>
        <h2>New account</h2>
        <${Select} label="Role" id="acct-role" value=${create.role} onChange=${(e) => setCreate({ ...create, role: e.currentTarget.value })}
          options=${[['client', 'client'], ['provider', 'provider'], ['admin', 'admin']]} />
        <${Field} label="Account id (optional)" id="acct-new-id" value=${create.account_id} onInput=${(e) => setCreate({ ...create, account_id: e.currentTarget.value })} />
        <${Field} label="Display name" id="acct-name" value=${create.display_name} onInput=${(e) => setCreate({ ...create, display_name: e.currentTarget.value })} />
        <button type="submit" disabled=${created.busy}>Create</button>
        <${ErrorNote} error=${created.error} />
      </form>
    </div>
    ${id ? html`<${AccountCard} id=${id} />` : null}
  </section>`;
}

function AccountCard({ id }) {
  const account = useLoad(async () => (await api('GET', `/v1/accounts/${enc(id)}`)).body, [id]);
  const keys = useLoad(async () => (await api('GET', `/v1/accounts/${enc(id)}/keys`)).body, [id]);
  const [label, setLabel] = useState('');
  const [deposit, setDeposit] = useState({ amount: '', reference: '' });
  const newKey = useAction(async () => { const { body } = await api('POST', `/v1/accounts/${enc(id)}/keys`, { body: label ? { label } : null }); keys.reload(); return body; });
  const revoke = useAction(async (key) => { await api('DELETE', `/v1/keys/${enc(key.key_id)}`); keys.reload(); });
  const credit = useAction(async () => {
    const { body } = await api('POST', `/v1/accounts/${enc(id)}/deposits`, { body: deposit });
    account.reload();
    setDeposit({ amount: '', reference: '' });
    return body;
  });
  const a = account.data;
  return html`<div class="card wide" data-testid="account">
    <${ErrorNote} error=${account.error} />
    ${a ? html`<h2>${a.display_name || a.account_id} <small class="muted">${a.role} · ${a.account_id} · ${a.status}</small></h2>
      <dl class="figures"><div><dt>Available</dt><dd data-testid="acct-available">${money(a.balance.available)}</dd></div>
        <div><dt>Held</dt><dd>${money(a.balance.held)}</dd></div><div><dt>Earnings</dt><dd>${money(a.balance.earnings)}</dd></div></dl>
      <form class="filters" onSubmit=${(e) => { e.preventDefault(); void credit.run(); }} aria-label="Deposit">
        <${Field} label="Deposit (AITBC)" id="dep-amount" type="number" min="0" step="any" required value=${deposit.amount} onInput=${(e) => setDeposit({ ...deposit, amount: e.currentTarget.value })} />
        <${Field} label="Reference (the payment received)" id="dep-ref" required value=${deposit.reference} onInput=${(e) => setDeposit({ ...deposit, reference: e.currentTarget.value })} />
        <div class="actions"><button type="submit" disabled=${credit.busy}>Deposit</button></div>
        ${credit.result ? html`<p class="full" role="status">${credit.result.replayed ? 'That reference was used before: nothing new credited.' : 'Credited.'} Available: ${money(credit.result.balance.available)}.</p>` : null}
        <div class="full"><${ErrorNote} error=${credit.error} /></div>
      </form>` : null}
    <h3>Keys</h3>
    <${ErrorNote} error=${keys.error ?? revoke.error} />
    ${keys.data ? html`<div class="table-wrap"><table><thead><tr><th scope="col">Key</th><th scope="col">Label</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Revoked</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${keys.data.map((k) => html`<tr><td>${k.key_id}</td><td>${k.label || '—'}</td><td>${when(k.created_at)}</td><td>${when(k.last_used_at)}</td><td>${when(k.revoked_at)}</td>
        <td>${k.revoked_at ? null : html`<button type="button" class="danger" disabled=${revoke.busy} onClick=${() => revoke.run(k)}>Revoke</button>`}</td></tr>`)}</tbody></table></div>` : null}
    <form class="inline" onSubmit=${(e) => { e.preventDefault(); void newKey.run(); }}>
      <label for="key-label">New key's label</label>
      <input id="key-label" maxlength="100" value=${label} onInput=${(e) => setLabel(e.currentTarget.value)} />
      <button type="submit" disabled=${newKey.busy}>Create key</button>
    </form>
    ${newKey.result ? html`<p class="note" role="status">New key (shown only now): <code class="secret">${newKey.result.key}</code></p>` : null}
    <${ErrorNote} error=${newKey.error} />
  </div>`;
}
