import { useState } from 'preact/hooks';
import { html } from '../lib/html.js';

/** Sign in by pasting an API key; it stays in this tab's session storage only. */
export function SignIn({ onKey }) {
  const [key, setKey] = useState('');
  return html`<form class="card" onSubmit=${(e) => { e.preventDefault(); if (key.trim()) onKey(key.trim()); }}>
    <h1>Sign in</h1>
    <p>Paste an API key (client, provider or admin). It is kept in this browser tab only and
      sent with every call to the API; closing the tab forgets it.</p>
    <div class="field">
      <label for="api-key">API key</label>
      <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false" required
        value=${key} onInput=${(e) => setKey(e.currentTarget.value)} />
    </div>
    <button type="submit">Sign in</button>
  </form>`;
}
