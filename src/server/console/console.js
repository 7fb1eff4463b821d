// liveguard moderator console: the alert feed, the hold queue and the script check.
//
// Plain browser JavaScript, no build step, no dependency. Chat is hostile: every
// piece of it reaches the page through textContent, never as HTML. The feed is read
// once per seq: records at or below the last seq seen are dropped, and a reconnect
// resumes with `since`, so a network drop or a server restart leaves neither gap nor
// duplicate.
'use strict';

(() => {
  const CATEGORIES = ['false_publicity', 'slander', 'prohibited_product', 'price_fraud', 'diversion', 'traffic_fraud'];
  const SEVERITIES = ['low', 'medium', 'high', 'critical'];
  const MAX_ALERTS = 1000; // alerts kept on the page; older ones drop off the list
  const CHART_MINUTES = 10;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  const session = window.sessionStorage;

  const state = {
    token: '',
    moderator: '',
    admin: '',
    ws: null,
    since: null, // the last feed seq seen
    retry: 0,
    retryTimer: null,
    alerts: [], // alert records, oldest first
    holds: new Map(), // held seq -> alert record, awaiting a decision
    decided: new Map(), // held seq -> review record
    sent: new Map(), // held seq -> decision sent, not yet acknowledged
    selected: null,
    minutes: new Map(), // minute -> {category: count}
    bursts: new Map(), // burst id -> its alert records, oldest first
  };

  // ---------------------------------------------------------------- helpers

  function authHeaders(token) {
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  async function api(path, options = {}, token = state.token) {
    const response = await fetch(path, {
      ...options,
      headers: { ...authHeaders(token), ...(options.headers || {}) },
      cache: 'no-store',
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const err = new Error(body.error || response.statusText);
      err.status = response.status;
      throw err;
    }
    return body;
  }

  // Byte offsets (as the server reports them) to string indexes.
  function byteIndex(text) {
    const at = new Map();
    let bytes = 0;
    for (let i = 0; i < text.length;) {
      at.set(bytes, i);
      const cp = text.codePointAt(i);
      bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      i += cp > 0xffff ? 2 : 1;
    }
    at.set(bytes, text.length);
    return at;
  }

  // `text` as text nodes, with each byte range of `spans` in a <mark>.
  function highlighted(text, spans) {
    const frag = document.createDocumentFragment();
    const at = byteIndex(text);
    const ranges = spans
      .map((s) => ({ from: at.get(s.start), to: at.get(s.end), cls: s.cls, title: s.title }))
      .filter((r) => r.from !== undefined && r.to !== undefined && r.to > r.from)
      .sort((a, b) => a.from - b.from);
    let pos = 0;
    for (const r of ranges) {
      if (r.from < pos) continue; // overlapping: the first one wins
      frag.append(document.createTextNode(text.slice(pos, r.from)));
      const mark = el('mark', r.cls, text.slice(r.from, r.to));
      if (r.title) mark.title = r.title;
      frag.append(mark);
      pos = r.to;
    }
    frag.append(document.createTextNode(text.slice(pos)));
    return frag;
  }

  function hitSpans(record) {
    const hits = (record.verdict && record.verdict.hits) || [];
    return hits.map((h) => ({ start: h.start, end: h.end, cls: 'c-' + h.category, title: h.rule }));
  }

  function categoriesOf(record) {
    const hits = (record.verdict && record.verdict.hits) || [];
    return [...new Set(hits.map((h) => h.category))];
  }

  function severityOf(record) {
    const hits = (record.verdict && record.verdict.hits) || [];
    return hits.reduce((max, h) => Math.max(max, SEVERITIES.indexOf(h.severity)), -1);
  }

  function time(ms) {
    return ms ? new Date(ms).toLocaleTimeString() : '';
  }

  function setConn(kind, detail) {
    const conn = $('conn');
    conn.dataset.state = kind;
    conn.textContent = {
      open: 'live',
      connecting: 'connecting…',
      closed: 'disconnected, reconnecting' + (detail ? ' (' + detail + ')' : ''),
      idle: 'not connected',
    }[kind];
  }

  function banner(message) {
    const b = $('banner');
    b.textContent = message;
    b.hidden = false;
  }

  function setSince(seq) {
    state.since = seq;
    session.setItem('lg.since', String(seq));
    document.body.dataset.lastSeq = String(seq);
  }

  // ---------------------------------------------------------------- feed

  async function connect() {
    clearTimeout(state.retryTimer);
    setConn('connecting');
    let pending;
    try {
      pending = await api('/v1/holds');
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        signedOut('The server refused the token: ' + e.message);
        return;
      }
      setConn('closed', e.message);
      retryLater();
      return;
    }
    if (state.since === null) {
      setSince(pending.seq);
    } else if (pending.seq < state.since) {
      // A server with a younger feed (a new data directory): its seqs are not ours.
      banner('The server\'s feed restarted at seq ' + pending.seq + '; reading on from there.');
      setSince(pending.seq);
    }
    for (const hold of pending.holds) addHold(hold);
    const query = new URLSearchParams({ since: String(state.since) });
    if (state.moderator) query.set('moderator', state.moderator);
    if (state.token) query.set('access_token', state.token);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(scheme + '//' + location.host + '/v1/alerts?' + query);
    state.ws = ws;
    ws.onopen = () => {
      state.retry = 0;
      setConn('open');
    };
    ws.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      onFrame(frame);
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      // Reviews in flight are not known to have landed: offer them again.
      state.sent.clear();
      renderHolds();
      setConn('closed', event.reason || 'code ' + event.code);
      retryLater();
    };
  }

  function retryLater() {
    const delay = Math.min(5000, 250 * 2 ** state.retry);
    state.retry += 1;
    $('conn').dataset.retries = String(state.retry);
    state.retryTimer = setTimeout(connect, delay);
  }

  function onFrame(frame) {
    switch (frame.kind) {
      case 'alert':
      case 'review':
        if (typeof frame.seq !== 'number' || frame.seq <= state.since) return;
        setSince(frame.seq);
        if (frame.kind === 'alert') onAlert(frame);
        else onReview(frame);
        break;
      case 'review_ack':
        onAck(frame);
        break;
      case 'error':
        onRefused(frame);
        break;
      case 'notice':
        banner(frame.message);
        break;
      default:
    }
  }

  function onAlert(record) {
    state.alerts.push(record);
    if (state.alerts.length > MAX_ALERTS) state.alerts.shift();
    const ts = (record.event && record.event.ts) || Date.now();
    const minute = Math.floor(ts / 60000);
    const counts = state.minutes.get(minute) || {};
    for (const c of categoriesOf(record)) counts[c] = (counts[c] || 0) + 1;
    state.minutes.set(minute, counts);
    const burst = burstOf(record);
    if (burst) {
      const members = state.bursts.get(burst) || [];
      members.push(record);
      state.bursts.set(burst, members);
    }
    if (matchesFilter(record)) {
      const list = $('alert-list');
      // A coordinated burst is one row, moved up as members arrive.
      if (burst) {
        for (const old of list.querySelectorAll('li.alert')) {
          if (old.dataset.burst === burst) old.remove();
        }
      }
      const row = burst ? burstRow(burst) : alertRow(record);
      row.classList.add('new');
      setTimeout(() => row.classList.remove('new'), 3000);
      list.prepend(row);
      while (list.children.length > MAX_ALERTS) list.lastChild.remove();
    }
    $('alert-count').textContent = String(state.alerts.length);
    renderChart();
    if (record.verdict && record.verdict.decision === 'hold') addHold(record);
  }

  function onReview(review) {
    state.decided.set(review.ref, review);
    const row = el('li', 'review');
    row.dataset.seq = String(review.seq);
    row.append(
      el('span', 'seq', '#' + review.seq),
      el('span', 'decision d-' + review.decision, review.decision),
      el('span', 'muted', 'hold #' + review.ref + ' (' + review.id + ') by ' + review.by),
    );
    if (!state.filterRoom || state.filterRoom.has(review.room)) $('alert-list').prepend(row);
    if (state.holds.delete(review.ref)) {
      if (state.selected === review.ref) {
        outcome('#' + review.ref + ' ' + review.decision + ' by ' + review.by, 'ok');
        selectNext();
      }
      renderHolds();
    }
  }

  function onAck(ack) {
    state.sent.delete(ack.seq);
    outcome('#' + ack.seq + ' ' + ack.decision + ': recorded by the server', 'ok');
    if (state.holds.delete(ack.seq)) {
      if (state.selected === ack.seq) selectNext();
      renderHolds();
    }
  }

  function onRefused(error) {
    if (typeof error.seq !== 'number') {
      outcome(error.reason, 'bad');
      return;
    }
    state.sent.delete(error.seq);
    if (error.decided) {
      outcome('#' + error.seq + ' was already decided: ' + error.decided.decision + ' by ' + error.decided.by, 'bad');
      if (state.holds.delete(error.seq)) {
        if (state.selected === error.seq) selectNext();
      }
    } else {
      outcome('#' + error.seq + ': ' + error.reason, 'bad');
    }
    renderHolds();
  }

  // ---------------------------------------------------------------- alerts list

  function readFilter() {
    const rooms = $('filter-room').value.split(',').map((r) => r.trim()).filter(Boolean);
    state.filterRoom = rooms.length ? new Set(rooms) : null;
    state.filterCategory = $('filter-category').value || null;
    state.filterSeverity = $('filter-severity').value ? SEVERITIES.indexOf($('filter-severity').value) : -1;
  }

  function matchesFilter(record) {
    if (state.filterRoom && !state.filterRoom.has(record.room)) return false;
    if (state.filterCategory && !categoriesOf(record).includes(state.filterCategory)) return false;
    return severityOf(record) >= state.filterSeverity;
  }

  function alertRow(record) {
    const ev = record.event || {};
    const verdict = record.verdict || {};
    const row = el('li', 'alert');
    row.dataset.seq = String(record.seq);
    row.dataset.room = record.room;
    const head = el('div', 'meta');
    head.append(
      el('span', 'seq', '#' + record.seq),
      el('span', 'decision d-' + verdict.decision, verdict.decision),
      el('span', 'room', record.room),
      el('span', 'user', (ev.user || '?') + (ev.role ? ' · ' + ev.role : '')),
      el('span', 'muted', time(ev.ts)),
    );
    for (const c of categoriesOf(record)) head.append(el('span', 'chip c-' + c, c));
    if (record.stored === false) head.append(el('span', 'chip warn', 'not stored'));
    const text = el('p', 'text');
    text.append(highlighted(ev.text || '', hitSpans(record)));
    row.append(head, text);
    for (const h of verdict.hits || []) {
      if (h.price) row.append(el('p', 'muted', priceLine(h)));
    }
    return row;
  }

  // A price check in words: the item, what was found, the price judged against its
  // limit, and the listings and sales it was compared with.
  function priceLine(h) {
    const p = h.price;
    const judged = p.check === 'compared_above_low' ? p.compared_price : p.price;
    const parts = [p.item + ': ' + h.term];
    if (p.missing && p.missing.length) parts.push('missing ' + p.missing.join(', '));
    if (judged != null && p.limit != null) parts.push('¥' + judged + ' against ¥' + p.limit);
    for (const r of p.evidence || []) {
      parts.push(r.kind + ' ' + r.id + (r.price != null ? ' ¥' + r.price : '') + ' ' + time(r.ts));
    }
    return parts.join(' · ');
  }

  function renderAlerts() {
    readFilter();
    const list = $('alert-list');
    list.replaceChildren();
    const shown = new Set();
    for (let i = state.alerts.length - 1; i >= 0; i -= 1) {
      const record = state.alerts[i];
      if (!matchesFilter(record)) continue;
      const burst = burstOf(record);
      if (burst && shown.has(burst)) continue;
      if (burst) shown.add(burst);
      list.append(burst ? burstRow(burst) : alertRow(record));
    }
  }

  // The id of the coordinated burst an alert's message is part of, if any.
  function burstOf(record) {
    const hits = (record.verdict && record.verdict.hits) || [];
    const hit = hits.find((h) => h.burst);
    return hit ? hit.burst.id : null;
  }

  // One row for a whole burst: its accounts and what each posted.
  function burstRow(id) {
    const records = state.bursts.get(id) || [];
    const last = records[records.length - 1];
    const hit = last.verdict.hits.find((h) => h.burst);
    const row = el('li', 'alert burst');
    row.dataset.seq = String(last.seq);
    row.dataset.room = last.room;
    row.dataset.burst = id;
    const head = el('div', 'meta');
    head.append(
      el('span', 'seq', '#' + last.seq),
      el('span', 'decision d-hold', 'burst'),
      el('span', 'room', last.room),
      el('span', null, hit.burst.users + ' accounts, near-identical'),
      el('span', 'chip c-traffic_fraud', 'traffic_fraud'),
      el('span', 'muted', id),
    );
    const lines = el('ol', 'members');
    // The messages before the burst was found come with the alert that found it.
    for (const record of records) {
      const found = record.verdict.hits.find((h) => h.burst);
      for (const m of (found && found.burst.members) || []) {
        lines.append(el('li', null, (m.user || '?') + ': ' + m.text));
      }
      const ev = record.event || {};
      lines.append(el('li', null, (ev.user || '?') + ': ' + (ev.text || '')));
    }
    row.append(head, lines);
    return row;
  }

  function renderChart() {
    const svg = $('chart');
    const ns = 'http://www.w3.org/2000/svg';
    svg.replaceChildren();
    const now = Math.floor(Date.now() / 60000);
    for (const minute of state.minutes.keys()) {
      if (minute <= now - CHART_MINUTES) state.minutes.delete(minute);
    }
    let max = 1;
    for (const counts of state.minutes.values()) {
      max = Math.max(max, Object.values(counts).reduce((a, b) => a + b, 0));
    }
    const width = 600 / CHART_MINUTES;
    for (let i = 0; i < CHART_MINUTES; i += 1) {
      const minute = now - CHART_MINUTES + 1 + i;
      const counts = state.minutes.get(minute) || {};
      let y = 110;
      for (const c of CATEGORIES) {
        const n = counts[c] || 0;
        if (!n) continue;
        const h = (n / max) * 100;
        y -= h;
        const rect = document.createElementNS(ns, 'rect');
        rect.setAttribute('x', String(i * width + 4));
        rect.setAttribute('y', String(y));
        rect.setAttribute('width', String(width - 8));
        rect.setAttribute('height', String(h));
        rect.setAttribute('class', 'c-' + c);
        const title = document.createElementNS(ns, 'title');
        title.textContent = c + ': ' + n;
        rect.append(title);
        svg.append(rect);
      }
      const label = document.createElementNS(ns, 'text');
      label.setAttribute('x', String(i * width + width / 2));
      label.setAttribute('y', '119');
      label.setAttribute('class', 'axis');
      label.textContent = i === CHART_MINUTES - 1 ? 'now' : '-' + (CHART_MINUTES - 1 - i) + 'm';
      svg.append(label);
    }
  }

  // ---------------------------------------------------------------- holds

  function addHold(record) {
    if (state.holds.has(record.seq) || state.decided.has(record.seq)) return;
    state.holds.set(record.seq, record);
    renderHolds();
  }

  function holdSeqs() {
    return [...state.holds.keys()].sort((a, b) => a - b);
  }

  function renderHolds() {
    const list = $('hold-list');
    list.replaceChildren();
    for (const seq of holdSeqs()) {
      const record = state.holds.get(seq);
      const row = alertRow(record);
      row.className = 'hold';
      if (seq === state.selected) row.classList.add('selected');
      if (state.sent.has(seq)) row.classList.add('sent');
      row.addEventListener('click', () => select(seq));
      list.append(row);
    }
    $('hold-count').textContent = String(state.holds.size);
    if (state.selected !== null && !state.holds.has(state.selected)) state.selected = null;
    if (state.selected === null && state.holds.size) select(holdSeqs()[0]);
    else if (state.selected === null) renderDetail();
  }

  function select(seq) {
    state.selected = seq;
    for (const row of $('hold-list').children) {
      row.classList.toggle('selected', row.dataset.seq === String(seq));
    }
    const row = $('hold-list').querySelector('.selected');
    if (row) row.scrollIntoView({ block: 'nearest' });
    renderDetail();
  }

  function move(step) {
    const seqs = holdSeqs();
    if (!seqs.length) return;
    const at = seqs.indexOf(state.selected);
    const next = at < 0 ? 0 : Math.min(seqs.length - 1, Math.max(0, at + step));
    select(seqs[next]);
  }

  function selectNext() {
    const seqs = holdSeqs().filter((s) => s !== state.selected);
    const later = seqs.find((s) => s > state.selected);
    state.selected = null;
    const next = later !== undefined ? later : seqs[seqs.length - 1];
    if (next !== undefined) select(next);
    else renderDetail();
  }

  function outcome(text, kind) {
    const o = $('outcome');
    o.textContent = text;
    o.className = kind || '';
  }

  function decide(decision) {
    const seq = state.selected;
    if (seq === null || state.sent.has(seq)) return;
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      outcome('Not connected: the review was not sent. Try again once live.', 'bad');
      return;
    }
    const frame = { kind: 'review', seq, decision };
    const note = $('review-note').value.trim();
    if (note) frame.note = note;
    state.ws.send(JSON.stringify(frame));
    state.sent.set(seq, decision);
    $('review-note').value = '';
    outcome('#' + seq + ' ' + decision + ': sent, waiting for the server…', '');
    renderHolds();
  }

  function renderDetail() {
    const record = state.selected !== null ? state.holds.get(state.selected) : null;
    $('detail-empty').hidden = !!record;
    $('detail-body').hidden = !record;
    if (!record) return;
    const ev = record.event || {};
    const verdict = record.verdict || {};
    $('detail-meta').textContent = '#' + record.seq + ' · ' + record.room + ' · ' + (ev.user || '?') +
      ' (' + (ev.role || ev.kind || '') + ') · ' + time(ev.ts);
    $('detail-text').replaceChildren(highlighted(ev.text || '', hitSpans(record)));
    const body = $('detail-hits').tBodies[0];
    body.replaceChildren();
    for (const h of verdict.hits || []) {
      const tr = el('tr');
      const context = h.context && h.context.length ? ' (' + h.context.join(', ') + ')' : '';
      tr.append(el('td', null, h.term), el('td', 'c-' + h.category, h.category), el('td', null, h.severity),
        el('td', null, h.via + context), el('td', 'rule', h.rule));
      body.append(tr);
    }
    const actions = record.actions || [];
    const bases = [...new Set(actions.map((a) => a.basis).filter(Boolean))];
    $('detail-basis').textContent = bases.length ? 'Basis: ' + bases.join('; ') : '';
    $('detail-actions').textContent = actions.length
      ? 'Actions: ' + actions.map((a) => a.type + (a.duration_s ? ' ' + a.duration_s + 's' : '')).join(', ')
      : '';
    loadContext(record);
  }

  let contextFor = null;
  async function loadContext(record) {
    const ev = record.event || {};
    const key = record.room + '\u0000' + (ev.user || '');
    if (contextFor === key) return;
    contextFor = key;
    $('ctx-room').textContent = record.room;
    const room = encodeURIComponent(record.room);
    const user = ev.user ? '&user=' + encodeURIComponent(ev.user) : '';
    const [alerts, actions, tier] = await Promise.allSettled([
      api('/v1/rooms/' + room + '/alerts?limit=10' + user),
      api('/v1/rooms/' + room + '/actions?limit=10'),
      api('/v1/rooms/' + room + '/tier'),
    ]);
    if (contextFor !== key) return;
    const userList = $('ctx-user');
    userList.replaceChildren();
    if (alerts.status === 'fulfilled') {
      for (const a of alerts.value.alerts) {
        const li = el('li', null);
        li.append(el('span', 'seq', '#' + a.seq), el('span', 'muted', time(a.event && a.event.ts) + ' '),
          highlighted((a.event && a.event.text) || '', hitSpans(a)));
        userList.append(li);
      }
    }
    const actionList = $('ctx-actions');
    actionList.replaceChildren();
    if (actions.status === 'fulfilled') {
      for (const a of actions.value.actions) {
        actionList.append(el('li', null, a.type + ' · ' + (a.reason || '') + ' · ' + time(a.ts)));
      }
    }
    $('ctx-tier').textContent = tier.status === 'fulfilled' ? tier.value.tier : '?';
    $('tier-switch').hidden = !state.admin;
    if (tier.status === 'fulfilled') $('tier-select').value = tier.value.tier;
  }

  async function setTier() {
    const record = state.holds.get(state.selected);
    if (!record) return;
    const tier = $('tier-select').value;
    try {
      const body = await api('/v1/rooms/' + encodeURIComponent(record.room) + '/tier', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tier }),
      }, state.admin);
      $('ctx-tier').textContent = body.tier;
      outcome('Room ' + record.room + ' is now ' + body.tier, 'ok');
    } catch (e) {
      outcome('Tier not changed: ' + e.message, 'bad');
    }
  }

  // ---------------------------------------------------------------- script check

  async function checkScript() {
    const text = $('script').value;
    $('check-summary').textContent = 'checking…';
    let answer;
    try {
      answer = await api('/v1/check', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ text, role: $('script-role').value }),
      });
    } catch (e) {
      $('check-summary').textContent = 'Not checked: ' + e.message;
      return;
    }
    $('check-summary').textContent = answer.hits.length
      ? answer.hits.length + ' hit(s) in ' + answer.lines + ' line(s); live this script would be: ' + answer.decision
      : 'No hits in ' + answer.lines + ' line(s) (lexicon ' + answer.lexicon + ').';
    $('check-summary').dataset.hits = String(answer.hits.length);
    $('check-text').replaceChildren(highlighted(text, answer.hits.map((h) => ({
      start: h.start, end: h.end, cls: 'c-' + h.category, title: h.rule,
    }))));
    const body = $('check-hits').tBodies[0];
    body.replaceChildren();
    for (const h of answer.hits) {
      const tr = el('tr', 'hit');
      tr.dataset.rule = h.rule;
      tr.dataset.category = h.category;
      const context = h.context && h.context.length ? ' (' + h.context.join(', ') + ')' : '';
      tr.append(
        el('td', null, h.line),
        el('td', 'said', h.matched),
        el('td', 'c-' + h.category, h.category),
        el('td', null, h.severity + context),
        el('td', null, h.decision),
        el('td', 'basis', h.basis),
        el('td', 'suggest', h.suggest.join(' / ')),
        el('td', 'why', h.note),
      );
      body.append(tr);
    }
  }

  // ---------------------------------------------------------------- page

  function showTab(name) {
    for (const b of document.querySelectorAll('.tab')) {
      b.setAttribute('aria-selected', String(b.dataset.tab === name));
    }
    $('queue').hidden = name !== 'queue';
    $('check').hidden = name !== 'check';
  }

  function signedOut(message) {
    if (state.ws) {
      const ws = state.ws;
      state.ws = null;
      ws.close();
    }
    clearTimeout(state.retryTimer);
    session.removeItem('lg.signed');
    setConn('idle');
    $('login').hidden = false;
    $('queue').hidden = true;
    $('check').hidden = true;
    $('sign-out').hidden = true;
    $('login-error').textContent = message || '';
  }

  function signIn() {
    state.token = $('token').value.trim();
    state.moderator = $('moderator').value.trim();
    state.admin = $('admin-token').value.trim();
    session.setItem('lg.signed', '1');
    session.setItem('lg.token', state.token);
    session.setItem('lg.moderator', state.moderator);
    session.setItem('lg.admin', state.admin);
    start();
  }

  function start() {
    $('login').hidden = true;
    $('sign-out').hidden = false;
    $('login-error').textContent = '';
    showTab('queue');
    const since = session.getItem('lg.since');
    if (since !== null && state.since === null) setSince(Number(since));
    connect();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target && event.target.tagName) || '';
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return;
    if ($('queue').hidden) return;
    const action = { j: () => move(1), k: () => move(-1), a: () => decide('approve'), r: () => decide('reject') }[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  function init() {
    const select = $('filter-category');
    for (const c of CATEGORIES) {
      const option = el('option', null, c);
      option.value = c;
      select.append(option);
    }
    const legend = $('legend');
    for (const c of CATEGORIES) legend.append(el('span', 'chip c-' + c, c));
    for (const b of document.querySelectorAll('.tab')) {
      b.addEventListener('click', () => showTab(b.dataset.tab));
    }
    $('connect').addEventListener('click', signIn);
    $('token').addEventListener('keydown', (e) => { if (e.key === 'Enter') signIn(); });
    $('sign-out').addEventListener('click', () => {
      session.clear();
      location.reload();
    });
    for (const id of ['filter-room', 'filter-category', 'filter-severity']) {
      $(id).addEventListener('input', renderAlerts);
    }
    $('approve').addEventListener('click', () => decide('approve'));
    $('reject').addEventListener('click', () => decide('reject'));
    $('tier-set').addEventListener('click', setTier);
    $('check-run').addEventListener('click', checkScript);
    document.addEventListener('keydown', onKey);
    setInterval(renderChart, 15000);
    readFilter();
    renderChart();
    if (session.getItem('lg.signed')) {
      state.token = session.getItem('lg.token') || '';
      state.moderator = session.getItem('lg.moderator') || '';
      state.admin = session.getItem('lg.admin') || '';
      start();
    }
  }

  init();
})();
