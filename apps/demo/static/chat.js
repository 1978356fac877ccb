// The chat page's client: long polls /api/messages for new messages, posts through the JSON API
// with the xsrf token in a header, uploads images as a raw request body. Plain JS, no build step.

(() => {
  const inbox = document.getElementById('inbox');
  const form = document.getElementById('message-form');
  const input = document.getElementById('message-input');
  const uploadForm = document.getElementById('upload-form');
  const fileInput = document.getElementById('image-input');
  const status = document.getElementById('status');
  const me = document.getElementById('me')?.textContent ?? '';
  const xsrf = form.querySelector('input[name=_xsrf]').value;
  let cursor = Number(inbox.dataset.cursor) || 0;

  const pad = (n) => String(n).padStart(2, '0');
  const clock = (ms) => {
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  };

  function show(message) {
    if (document.getElementById(`m${message.id}`)) return;
    document.getElementById('empty')?.remove();
    const el = document.createElement('article');
    el.className = message.from === me ? 'message mine' : 'message';
    el.id = `m${message.id}`;
    el.dataset.id = String(message.id);
    const head = document.createElement('header');
    const from = document.createElement('b');
    from.className = 'from';
    from.textContent = message.from;
    const time = document.createElement('time');
    time.dateTime = new Date(message.time).toISOString();
    time.textContent = clock(message.time);
    head.append(from, ' ', time);
    el.append(head);
    if (message.body) {
      const body = document.createElement('p');
      body.className = 'body';
      body.textContent = message.body;
      el.append(body);
    }
    if (message.image) {
      const link = document.createElement('a');
      link.href = message.image;
      link.target = '_blank';
      link.rel = 'noopener';
      const img = document.createElement('img');
      img.className = 'image';
      img.src = message.image;
      img.alt = `image from ${message.from}`;
      link.append(img);
      el.append(link);
    }
    const atBottom = inbox.scrollHeight - inbox.scrollTop - inbox.clientHeight < 40;
    // Keep id order even when a post's own answer overtakes the long poll.
    let before = null;
    for (let node = inbox.lastElementChild; node?.dataset.id && Number(node.dataset.id) > message.id; ) {
      before = node;
      node = node.previousElementSibling;
    }
    inbox.insertBefore(el, before);
    if (atBottom || message.from === me) inbox.scrollTop = inbox.scrollHeight;
    cursor = Math.max(cursor, message.id);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function poll() {
    let failures = 0;
    for (;;) {
      try {
        const res = await fetch(`/api/messages?cursor=${cursor}&wait=1`, {
          headers: { Accept: 'application/json' },
        });
        if (res.status === 401 || res.status === 403) {
          location.reload();
          return;
        }
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const data = await res.json();
        for (const message of data.messages) show(message);
        failures = 0;
      } catch {
        // The server restarted or is draining: back off, then carry on from the same cursor.
        failures++;
        await sleep(Math.min(10_000, 250 * 2 ** failures));
      }
    }
  }

  async function send(url, body, headers) {
    const res = await fetch(url, { method: 'POST', body, headers: { 'X-XSRFToken': xsrf, ...headers } });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    show(data.message);
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = '';
    try {
      await send('/api/messages', JSON.stringify({ body }), { 'Content-Type': 'application/json' });
      status.textContent = '';
    } catch (err) {
      input.value = body;
      status.textContent = err.message;
    }
  });

  uploadForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    status.textContent = 'uploading…';
    try {
      await send('/upload', file, { 'Content-Type': file.type || 'application/octet-stream' });
      status.textContent = '';
      uploadForm.reset();
    } catch (err) {
      status.textContent = err.message;
    }
  });

  inbox.scrollTop = inbox.scrollHeight;
  poll();
})();
