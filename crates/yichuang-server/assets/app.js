// 一窗 pages: live updates from /live, the intake form's plan, the print button.
// Loaded from the service itself (the Content-Security-Policy allows no inline script).
(function () {
  'use strict';

  var status = document.getElementById('live-status');
  var root = document.documentElement;
  root.dataset.refreshes = '0';

  function say(text, state) {
    if (status) { status.textContent = text; }
    root.dataset.live = state;
  }

  function liveRegions() {
    return Array.prototype.slice.call(document.querySelectorAll('[data-live]'));
  }

  // Regions the person is typing in are left alone until they leave them.
  var dirty = new Set();
  document.addEventListener('input', function (ev) {
    var region = ev.target.closest && ev.target.closest('[data-live]');
    if (region) { dirty.add(region.id); }
  });
  document.addEventListener('submit', function (ev) {
    var region = ev.target.closest && ev.target.closest('[data-live]');
    if (region) { dirty.delete(region.id); }
  });

  function busyIn(region) {
    var active = document.activeElement;
    var typing = active && active !== document.body && region.contains(active) &&
      /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
    return typing || dirty.has(region.id);
  }

  var stale = false;
  function swap(doc) {
    liveRegions().forEach(function (region) {
      var fresh = doc.getElementById(region.id);
      if (!fresh) { return; }
      if (busyIn(region)) { stale = true; return; }
      region.replaceWith(document.importNode(fresh, true));
    });
  }

  var inFlight = false;
  var again = false;
  var timer = null;
  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    fetch(location.href, { headers: { 'Accept': 'text/html' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        var type = r.headers.get('content-type') || '';
        if (!r.ok || type.indexOf('text/html') !== 0) { throw new Error('HTTP ' + r.status); }
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        if (!doc.querySelector('[data-live]')) {
          say('实时更新：登录已过期，请刷新页面重新登录', 'expired');
          return;
        }
        swap(doc);
        root.dataset.refreshes = String(Number(root.dataset.refreshes) + 1);
      })
      .catch(function () {
        say('实时更新：刷新失败（刷新页面可查看最新数据）', 'failed');
      })
      .then(function () {
        inFlight = false;
        if (again) { again = false; schedule(); }
      });
  }
  function schedule() {
    if (timer !== null) { return; }
    timer = setTimeout(function () { timer = null; refresh(); }, 120);
  }
  document.addEventListener('focusout', function () {
    if (stale) { stale = false; schedule(); }
  });

  function relevant(data) {
    // A case page listens to its own case and to tickets (which may be about it).
    var scoped = document.querySelector('[data-live][data-stream]');
    if (!scoped) { return true; }
    var stream = data.stream || '';
    return stream === scoped.dataset.stream || stream.charAt(0) === 'T';
  }

  if (status && liveRegions().length && window.EventSource) {
    var source = new EventSource('/live');
    source.onopen = function () { say('实时更新：已连接', 'open'); };
    source.onerror = function () {
      say('实时更新：连接中断，正在重连…（刷新页面可查看最新数据）', 'reconnecting');
    };
    source.onmessage = function (ev) {
      var data = {};
      try { data = JSON.parse(ev.data); } catch (e) { data = {}; }
      if (relevant(data)) { schedule(); }
    };
    // Times left move with the clock even when nothing happens.
    setInterval(schedule, 30000);
  }

  // 综合受理: the members and materials follow the answers.
  var intake = document.getElementById('intake');
  if (intake) {
    intake.addEventListener('change', function (ev) {
      if (!ev.target.matches('[data-refresh]')) { return; }
      var body = new URLSearchParams(new FormData(intake));
      body.set('action', 'preview');
      fetch(intake.getAttribute('action'), { method: 'POST', body: body, credentials: 'same-origin' })
        .then(function (r) { return r.text(); })
        .then(function (text) {
          var doc = new DOMParser().parseFromString(text, 'text/html');
          var fresh = doc.getElementById('plan');
          var plan = document.getElementById('plan');
          if (fresh && plan) {
            plan.replaceWith(document.importNode(fresh, true));
            root.dataset.plans = String(Number(root.dataset.plans || '0') + 1);
          }
        })
        .catch(function () { /* the 更新 button still works */ });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-print]'), function (button) {
    button.addEventListener('click', function () { window.print(); });
  });
})();
