// The console's shell: sign-in, the account behind the key, navigation by role, hash routes.
import { useEffect, useState } from 'preact/hooks';
import { api, session } from './lib/api.js';
import { html, render } from './lib/html.js';
import { closeGpuEvents } from './lib/liveGpuEvents.js';
import { ErrorNote } from './lib/ui.js';
import { SignIn } from './pages/signIn.js';
import { GpuList } from './pages/gpuList.js';
import { GpuPage } from './pages/gpuPage.js';
import { Orders } from './pages/orders.js';
import { Wallet } from './pages/wallet.js';
import { Bids } from './pages/bids.js';
import { Fleet } from './pages/fleet.js';
import { Offers } from './pages/offers.js';
import { Earnings } from './pages/earnings.js';
import { AdminAccounts } from './pages/adminAccounts.js';
import { Moderation } from './pages/moderation.js';

/** Pages each role sees, in the navigation's order: [route, label, component]. */
const PAGES = {
  client: [['gpus', 'GPUs', GpuList], ['orders', 'Orders', Orders], ['wallet', 'Balance', Wallet], ['bids', 'Bids', Bids]],
  provider: [['fleet', 'Fleet', Fleet], ['offers', 'Offers', Offers], ['earnings', 'Earnings', Earnings], ['gpus', 'GPUs', GpuList],
    ['orders', 'Orders', Orders], ['wallet', 'Balance', Wallet]],
  admin: [['accounts', 'Accounts', AdminAccounts], ['moderation', 'Moderation', Moderation], ['gpus', 'GPUs', GpuList],
    ['fleet', 'Fleet', Fleet], ['orders', 'Orders', Orders], ['bids', 'Bids', Bids]],
};

/** `#/gpus/gpu_x` → ['gpus', 'gpu_x']. */
/** The route from the hash; a malformed escape (typed or pasted) is kept as typed rather than blanking the page. */
const decode = (part) => { try { return decodeURIComponent(part); } catch { return part; } };
const readHash = () => location.hash.replace(/^#\/?/, '').split('/').map(decode);

function useHash() {
  const [parts, setParts] = useState(readHash());
  useEffect(() => {
    const update = () => setParts(readHash());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return parts;
}

function Shell({ account, onSignOut }) {
  const [page, id] = useHash();
  const pages = PAGES[account.role] ?? PAGES.client;
  const current = pages.find(([route]) => route === page) ?? pages[0];
  const [route, label, Page] = current;
  useEffect(() => {
    document.title = `${id ?? label} · AITBC console`;
    // Focus goes to the new page's heading, so keyboard and screen reader users land there.
    document.querySelector('main h1')?.focus();
  }, [route, id]);
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="top">
      <strong class="brand">AITBC console</strong>
      <nav aria-label="Pages"><ul>
        ${pages.map(([r, text]) => html`<li><a href=${`#/${r}`} aria-current=${r === route ? 'page' : undefined}>${text}</a></li>`)}
      </ul></nav>
      <div class="who">
        <span data-testid="who">${account.role} · ${account.account_id}</span>
        <button type="button" class="link" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">
      ${route === 'gpus' && id ? html`<${GpuPage} id=${id} account=${account} />` : html`<${Page} account=${account} />`}
    </main>`;
}

function App() {
  const [account, setAccount] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [checking, setChecking] = useState(Boolean(session.key()));
  // A key from earlier in this tab: find whose it is (it may have been revoked since).
  const identify = async () => {
    try {
      const { body } = await api('GET', '/v1/accounts/me');
      setAccount(body);
      setError(undefined);
    } catch (err) {
      session.signOut();
      setAccount(undefined);
      setError(err);
    } finally {
      setChecking(false);
    }
  };
  useEffect(() => { if (session.key()) void identify(); }, []);
  const signOut = () => {
    closeGpuEvents();
    session.signOut();
    setAccount(undefined);
    location.hash = '';
  };
  if (checking) return html`<p class="loading">Checking your key…</p>`;
  if (!account) {
    return html`<main id="main" class="narrow"><${SignIn} onKey=${(key) => { session.signIn(key); setChecking(true); void identify(); }} />
      <${ErrorNote} error=${error} /></main>`;
  }
  return html`<${Shell} account=${account} onSignOut=${signOut} />`;
}

const root = document.getElementById('app');
// The "Loading…" placeholder is plain HTML: Preact would render beside it, not over it.
root.replaceChildren();
render(html`<${App} />`, root);
