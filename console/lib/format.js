// Display only: amounts stay the API's numbers, shown with their decimals (up to 6).
const moneyFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 6 });

export const money = (amount) => (amount === null || amount === undefined ? '—' : `${moneyFormat.format(amount)} AITBC`);

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' });
}

export const rating = (value, count) => (count ? `${value.toFixed(2)} ★ (${count})` : 'no reviews yet');
