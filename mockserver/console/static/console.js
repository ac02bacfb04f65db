// Progressive enhancement for the console; every page and form works without it.
// - Regions marked data-region are refreshed in place from the server's own render of the page:
//   polled (1 s while a batch runs, 4 s otherwise) and right after every enhanced form.
// - Forms marked data-enhance post with fetch and get JSON back: no page reload.
// - The upload form takes a dropped file and shows a rejected line next to the API's message.

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const ACTIVE_MS = 1000;
const IDLE_MS = 4000;

function say(message, ok) {
  const box = $('[data-flash]');
  if (!box) return;
  box.replaceChildren();
  if (!message) return;
  const p = document.createElement('p');
  p.className = ok ? 'ok' : 'bad';
  p.textContent = message;
  box.append(p);
}

// -- live regions -------------------------------------------------------------------------------
const seen = new WeakMap(); // region -> the server HTML it shows
let inFlight = null;

function swap(region, fresh) {
  const open = new Set($$('details[open]', region).map((d) => d.id).filter(Boolean));
  const focused = region.contains(document.activeElement) ? document.activeElement.id : '';
  region.innerHTML = fresh.innerHTML;
  for (const name of ['data-active']) {
    if (fresh.hasAttribute(name)) region.setAttribute(name, fresh.getAttribute(name));
  }
  for (const id of open) document.getElementById(id)?.setAttribute('open', '');
  if (focused) document.getElementById(focused)?.focus();
}

export function refresh() {
  inFlight ??= (async () => {
    try {
      const res = await fetch(location.href, { headers: { 'X-Console-Refresh': '1' }, cache: 'no-store' });
      if (res.redirected && new URL(res.url).pathname.endsWith('/login')) {
        location.assign(res.url);
        return;
      }
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const region of $$('[data-region]')) {
        const fresh = doc.getElementById(region.id);
        if (!fresh || fresh.innerHTML === seen.get(region)) continue;
        seen.set(region, fresh.innerHTML);
        swap(region, fresh);
      }
      document.dispatchEvent(new CustomEvent('console:refreshed'));
    } catch {
      // the simulator is restarting or busy: the next tick tries again
    } finally {
      inFlight = null;
    }
  })();
  return inFlight;
}

function poll() {
  const active = $$('[data-region][data-active="1"]').length > 0;
  setTimeout(async () => {
    if (!document.hidden) await refresh();
    poll();
  }, active ? ACTIVE_MS : IDLE_MS);
}

// -- forms --------------------------------------------------------------------------------------
async function submit(event) {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-enhance')) return;
  event.preventDefault();
  // an action that asks first: the server acts only on confirm=yes (without script it asks on a page)
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  const body = new FormData(form, event.submitter);
  if (form.dataset.confirm) body.set('confirm', 'yes');
  const buttons = $$('button', form).filter((b) => !b.disabled);
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute('aria-busy', 'true');
  let data;
  try {
    const res = await fetch(form.action, { method: 'POST', body, headers: { Accept: 'application/json' } });
    data = await res.json().catch(() => ({ ok: false, message: `The simulator answered HTTP ${res.status}.` }));
  } catch (err) {
    data = { ok: false, message: `The simulator did not answer (${err.message}).` };
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    form.removeAttribute('aria-busy');
  }
  if (data.redirect) {
    location.assign(data.redirect);
    return;
  }
  // a rejected upload is shown inline, next to its line, not in the banner
  say(form.hasAttribute('data-upload') && !data.ok ? '' : data.message, data.ok);
  form.dispatchEvent(new CustomEvent('console:done', { detail: data }));
  await refresh();
}

// -- upload ---------------------------------------------------------------------------------------
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The API counts request lines without blank ones, from 1; show that line of the file in context.
async function showRejected(box, file, message, line) {
  box.replaceChildren(el('p', 'bad', message));
  if (!line || !file || file.size > 50 * 1024 * 1024) return;
  const lines = (await file.text()).split('\n');
  let seenLines = 0;
  let at = -1;
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i].trim() !== '') seenLines += 1;
    if (seenLines === line) { at = i; break; }
  }
  if (at < 0) return;
  const clip = (text) => (text.length > 240 ? `${text.slice(0, 240)}…` : text);
  const list = el('ol', 'source');
  list.start = Math.max(1, at);
  list.setAttribute('aria-label', `Lines around request line ${line} of ${file.name}`);
  for (let i = Math.max(0, at - 1); i <= Math.min(lines.length - 1, at + 1); i += 1) {
    const item = el('li', i === at ? 'bad-line' : '');
    item.append(el('code', '', clip(lines[i].replace(/\r$/, ''))));
    if (i === at) {
      item.setAttribute('aria-current', 'true');
      item.append(el('span', 'why', `← ${message}`));
    }
    list.append(item);
  }
  const note = at + 1 === line ? '' : ` (file line ${at + 1}; blank lines are not counted)`;
  box.append(el('p', 'sub', `Request line ${line}${note}:`), list);
}

function setupUpload(form) {
  const input = $('input[type=file]', form);
  const zone = $('[data-drop]', form);
  const chosen = $('[data-chosen]', form);
  const box = $('#upload-error', form);
  const show = () => {
    const file = input.files[0];
    chosen.textContent = file ? `Chosen: ${file.name} (${file.size} bytes)` : '';
    box.replaceChildren();
    input.removeAttribute('aria-invalid');
  };
  input.addEventListener('change', show);
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (e) => { e.preventDefault(); zone.classList.add('over'); });
  }
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (e.dataTransfer?.files.length) {
      input.files = e.dataTransfer.files;
      show();
    }
  });
  form.addEventListener('console:done', async (e) => {
    const data = e.detail;
    if (data.ok) {
      form.reset();
      show();
      return;
    }
    input.setAttribute('aria-invalid', 'true');
    await showRejected(box, input.files[0], data.message, data.line);
  });
}

document.addEventListener('submit', submit);
$$('form[data-upload]').forEach(setupUpload);
$$('[data-region]').forEach((region) => seen.set(region, region.innerHTML));
if ($('[data-poll]')) poll();
