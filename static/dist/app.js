// SMTP Desk: small progressive enhancements. Every page works without this file; it only adds
// copy buttons, dismissible flashes, confirmation dialogs, local times and a few conveniences.
// CSP-clean: no inline code, no eval, no HTML built from strings.
(function () {
  'use strict';

  function ready(fn) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', fn);
    } else {
      fn();
    }
  }

  // A page restored from the back/forward cache (after sign-out, say) is fetched again, so the
  // server decides what it shows; signed-in pages are also served Cache-Control: no-store.
  window.addEventListener('pageshow', function (e) {
    if (e.persisted) window.location.reload();
  });

  function announce(msg) {
    var live = document.getElementById('js-live');
    if (!live) return;
    live.textContent = '';
    window.setTimeout(function () { live.textContent = msg; }, 50);
  }

  // Copy buttons: <button data-copy-target="id"> copies the value (or text) of #id.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      // The text is copied from a textarea of its own, which takes the focus to select it: the
      // focus goes back where it was (the button), or the next Tab started again at the top.
      var before = document.activeElement;
      var ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.className = 'sr-only';
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      if (before && typeof before.focus === 'function') before.focus();
      if (ok) { resolve(); } else { reject(new Error('copy failed')); }
    });
  }

  // copyWithFeedback copies text and says so on btn ("Copied") and to screen readers; when the
  // browser refuses, the button says "Not copied", the page's data-copy-failed note shows (what
  // to do instead, for good: the passwords are shown once), fallback() selects what can be
  // copied by hand, and the failure is announced.
  function copyWithFeedback(btn, text, copiedMsg, failedMsg, fallback) {
    var label = btn.querySelector('[data-copy-label]') || btn;
    var original = btn.getAttribute('data-label') || label.textContent;
    btn.setAttribute('data-label', original);
    function show(word, attr, ms) {
      label.textContent = word;
      btn.setAttribute(attr, 'true');
      window.setTimeout(function () {
        label.textContent = original;
        btn.removeAttribute(attr);
      }, ms);
    }
    copyText(text).then(function () {
      show('Copied', 'data-copied', 2000);
      announce(copiedMsg);
    }, function () {
      show('Not copied', 'data-copy-refused', 4000);
      document.querySelectorAll('[data-copy-failed]').forEach(function (note) { note.hidden = false; });
      if (fallback) fallback();
      announce(failedMsg);
    });
  }

  function initCopy() {
    document.querySelectorAll('[data-copy-target]').forEach(function (btn) {
      btn.hidden = false;
      btn.addEventListener('click', function () {
        var target = document.getElementById(btn.getAttribute('data-copy-target'));
        if (!target) return;
        var text = 'value' in target ? target.value : target.textContent;
        copyWithFeedback(btn, text, 'Password copied to the clipboard',
          'Copy failed: the text is selected, press Ctrl+C or Cmd+C',
          function () { if (target.select) { target.focus(); target.select(); } });
      });
    });
    // Copy all: every shown password as "login<TAB>password" lines, which paste as two columns
    // into a spreadsheet and split on the tab anywhere else.
    document.querySelectorAll('[data-copy-all]').forEach(function (btn) {
      btn.hidden = false;
      btn.addEventListener('click', function () {
        var lines = [];
        document.querySelectorAll('[data-secret-for]').forEach(function (input) {
          lines.push(input.getAttribute('data-secret-for') + '\t' + input.value);
        });
        if (lines.length === 0) return;
        copyWithFeedback(btn, lines.join('\n') + '\n',
          lines.length + ' logins and passwords copied to the clipboard',
          'Copy failed: copy the passwords one by one');
      });
    });
    // A click into a shown-once secret selects all of it.
    document.querySelectorAll('input[data-select-on-focus]').forEach(function (input) {
      input.addEventListener('focus', function () { input.select(); });
    });
  }

  // Flashes: the dismiss button is hidden until this script shows it. A flash comes with the
  // page, in a status region, and a screen reader announces only what changes in a live region
  // once the page is there: its words are said again through the script's live region. On a
  // list that "Done" leads to, initChanged says which row changed instead, as its flash does,
  // after any warning.
  function initFlashes() {
    var words = [];
    document.querySelectorAll('[data-flash] > p').forEach(function (p) {
      words.push(p.textContent.trim());
    });
    if (words.length > 0 && !document.querySelector('table.creds > tbody > tr[data-changed]')) {
      announce(words.join(' '));
      // After an action that leaves no row to focus (a delete, a delete all), the keyboard
      // focus goes to what it did, not to the top of the page: Tab goes on from the message,
      // and the page is not scrolled. Whatever its kind: a login already gone (info) or a
      // delete all that left some behind (warning) leaves no row either. A page that asks for
      // the focus itself keeps it.
      var done = document.querySelector('[data-flash]');
      if (done && !document.querySelector('[data-autofocus]')) {
        done.setAttribute('tabindex', '-1');
        done.focus({ preventScroll: true });
      }
    }
    document.querySelectorAll('[data-dismiss]').forEach(function (btn) {
      btn.hidden = false;
      btn.addEventListener('click', function () {
        var flash = btn.closest('[data-flash]');
        if (!flash) return;
        var main = document.getElementById('main');
        flash.remove();
        if (main) main.focus();
      });
    });
  }

  // Confirmation dialogs: a link with data-confirm-action (or a row's delete link, a.ad in a
  // table with data-confirm-domain) goes to a confirmation page without JS; with JS it opens the
  // page's <dialog data-confirm-dialog>, which posts the same form: to data-confirm-action, or to
  // the delete link's own href (the confirmation page takes the POST). The question is the link's
  // data-confirm-message or, on a list of logins, built from the row's data-login and the table's
  // data-confirm-domain (the server does not repeat it on every row).
  function confirmMessage(link) {
    var msg = link.getAttribute('data-confirm-message');
    if (msg) return msg;
    var row = link.closest('[data-login]');
    var scope = link.closest('[data-confirm-domain]');
    if (!row || !scope) return '';
    return 'Delete ' + row.getAttribute('data-login') + ' from ' + scope.getAttribute('data-confirm-domain') +
      '? Apps using this login will stop sending immediately. This cannot be undone.';
  }

  function initConfirm() {
    var dialog = document.querySelector('dialog[data-confirm-dialog]');
    if (!dialog || typeof dialog.showModal !== 'function') return;
    var form = dialog.querySelector('form');
    var message = dialog.querySelector('[data-confirm-message]');
    var cancel = dialog.querySelector('[data-confirm-cancel]');
    var opener = null;
    document.querySelectorAll('a[data-confirm-action], table[data-confirm-domain] a.ad').forEach(function (link) {
      link.addEventListener('click', function (ev) {
        if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey || ev.button !== 0) return;
        ev.preventDefault();
        opener = link;
        form.setAttribute('action', link.getAttribute('data-confirm-action') || link.getAttribute('href'));
        message.textContent = confirmMessage(link);
        dialog.showModal();
        if (cancel) cancel.focus();
      });
    });
    if (cancel) {
      cancel.addEventListener('click', function (ev) {
        ev.preventDefault();
        dialog.close();
      });
    }
    // Once confirmed, the deletion is on its way and cannot be called back: while the answer is
    // awaited (Mailgun may be slow), Cancel is disabled and neither Esc nor the backdrop closes
    // the dialog as if it had been cancelled. Coming back to the page (back button) undoes this.
    var sent = false;
    form.addEventListener('submit', function (ev) {
      if (ev.defaultPrevented) return;
      sent = true;
      if (cancel) {
        cancel.disabled = true;
        cancel.title = 'Already sent: the deletion cannot be called back';
      }
    });
    function unsend() {
      sent = false;
      if (cancel) {
        cancel.disabled = false;
        cancel.removeAttribute('title');
      }
    }
    window.addEventListener('pageshow', unsend);
    onSendingStopped(unsend);
    dialog.addEventListener('cancel', function (ev) {
      if (sent) ev.preventDefault();
    });
    dialog.addEventListener('close', function () {
      if (opener) opener.focus();
    });
    // A click on the backdrop closes the dialog, as Esc does.
    dialog.addEventListener('click', function (ev) {
      if (ev.target === dialog && !sent) dialog.close();
    });
  }

  // Delete all: the confirm button stays disabled until the typed text matches. The button's
  // data-disabled-hint names an element (hidden in the page, an aria-live region) that says why:
  // it shows while the button is disabled, and Enter in the field or a tap on the button says it
  // again, since neither does anything else then.
  function initConfirmMatch() {
    document.querySelectorAll('input[data-confirm-match]').forEach(function (input) {
      var form = input.form;
      if (!form) return;
      var btn = form.querySelector('[data-confirm-submit]');
      if (!btn) return;
      var want = input.getAttribute('data-confirm-match');
      var hint = document.getElementById(btn.getAttribute('data-disabled-hint') || '');
      var hintNodes = hint ? Array.prototype.slice.call(hint.childNodes) : [];
      function update() {
        // As the server reads it: without the characters that take no room on the screen (a
        // byte order mark or a zero-width space pasted with the name) and the spaces around.
        var ok = input.value.replace(/[\u200b\u200c\u200d\u2060\ufeff]/g, '').trim() === want;
        btn.disabled = !ok;
        if (ok) {
          btn.removeAttribute('title');
        } else {
          btn.title = 'Type ' + want + ' to enable this button';
        }
        if (hint) hint.hidden = ok;
      }
      // remind puts the hint's text back into its live region, so that it is read out again.
      function remind() {
        if (!btn.disabled || !hint) return;
        hint.hidden = false;
        hintNodes.forEach(function (n) { if (n.parentNode === hint) hint.removeChild(n); });
        window.setTimeout(function () {
          hintNodes.forEach(function (n) { hint.appendChild(n); });
        }, 50);
      }
      input.addEventListener('input', update);
      input.addEventListener('keydown', function (ev) {
        if (ev.key === 'Enter' && btn.disabled) {
          ev.preventDefault();
          remind();
        }
      });
      // A disabled button gets no click, but a pointer (a tap) still reaches it.
      btn.addEventListener('pointerup', remind);
      update();
    });
  }

  // Times: <time datetime> shows a relative or UTC time from the server; here the exact time in
  // the viewer's time zone goes into the title, and absolute times (data-local) are rewritten in
  // local time. One split in two lines (data-local="split", the audit trail's exact times) has its
  // day and its time of day, to the second and with the zone, each in its own line. One within a
  // sentence (data-local="at", a warning's "on 2026-12-06 at 04:07 UTC") has its day and its time
  // of day to the minute, as the server wrote it, with the zone; its title keeps the UTC time.
  function initTimes() {
    var exact, short, day, clock, minute;
    try {
      exact = new Intl.DateTimeFormat(undefined, {
        year: 'numeric', month: 'short', day: 'numeric',
        hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short'
      });
      short = new Intl.DateTimeFormat(undefined, {
        year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'
      });
      day = new Intl.DateTimeFormat(undefined, {year: 'numeric', month: 'short', day: 'numeric'});
      clock = new Intl.DateTimeFormat(undefined, {
        hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short'
      });
      minute = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit', timeZoneName: 'short'});
    } catch (e) {
      return;
    }
    document.querySelectorAll('time[datetime]').forEach(function (el) {
      var d = new Date(el.getAttribute('datetime'));
      if (isNaN(d.getTime())) return;
      var mode = el.getAttribute('data-local');
      if (mode !== 'at') el.title = exact.format(d);
      if (mode === null) return;
      var dayEl = el.querySelector('[data-local-day]'), clockEl = el.querySelector('[data-local-clock]');
      if ((mode === 'split' || mode === 'at') && dayEl && clockEl) {
        dayEl.textContent = day.format(d);
        clockEl.textContent = (mode === 'at' ? minute : clock).format(d);
      } else {
        el.textContent = short.format(d);
      }
    });
  }

  // The audit filters' dates are days in the time zone of the form's "tz" field, UTC when it is
  // empty. Where the page says it may (data-tz-auto: no zone and no date set yet), the viewer's
  // own zone goes in, and the date labels name it, so "to" a day is that day as the rows show it.
  // A zone name the server cannot read is named on the page once a date is set, and the dates
  // are read as UTC days.
  function initZone() {
    var input = document.querySelector('input[data-tz-auto]'), zone;
    if (!input) return;
    try {
      zone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return;
    }
    if (!zone || zone === 'UTC' || !/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) return;
    input.value = zone;
    document.querySelectorAll('[data-tz-label]').forEach(function (el) {
      el.textContent = '(' + zone + ')';
      el.title = zone;
    });
  }

  // Page-size selects submit their GET form when a choice is made with the pointer; the Apply
  // button is then unnecessary and hidden. A keyboard changes the value at each arrow key, so a
  // change made with keys only shows Apply again: submitting would reload the page (and lose
  // the focus) before the user has looked through the options.
  function initAutosubmit() {
    document.querySelectorAll('select[data-autosubmit]').forEach(function (sel) {
      var form = sel.form;
      if (!form) return;
      var apply = form.querySelectorAll('[data-autosubmit-hide]');
      apply.forEach(function (b) { b.hidden = true; });
      var byKey = false;
      sel.addEventListener('keydown', function () { byKey = true; });
      sel.addEventListener('pointerdown', function () { byKey = false; });
      sel.addEventListener('change', function () {
        if (byKey) {
          apply.forEach(function (b) { b.hidden = false; });
          return;
        }
        if (typeof form.requestSubmit === 'function') { form.requestSubmit(); } else { form.submit(); }
      });
    });
  }

  // Password mode: the manual password fields are only relevant when "manual" is chosen. A
  // click on "Choose a password" takes the focus to the password field; a choice made with the
  // keyboard (the arrow keys, which check a radio as they move to it, or Space) leaves the focus
  // on the radio, so that the arrow keys still move between the two choices, and Tab goes on to
  // the field.
  function initModeToggle() {
    document.querySelectorAll('[data-manual-fields]').forEach(function (box) {
      var form = box.closest('form');
      if (!form) return;
      var radios = form.querySelectorAll('input[type=radio][name=mode]');
      function update() {
        var manual = form.querySelector('input[type=radio][name=mode][value=manual]');
        var on = manual && manual.checked;
        box.hidden = !on;
        box.querySelectorAll('input').forEach(function (i) { i.disabled = !on; });
      }
      var byKey = false;
      form.addEventListener('keydown', function () { byKey = true; });
      form.addEventListener('pointerdown', function () { byKey = false; });
      radios.forEach(function (r) {
        r.addEventListener('change', function () {
          update();
          if (r.value === 'manual' && r.checked && !byKey) {
            var first = box.querySelector('input');
            if (first) first.focus();
          }
        });
      });
      update();
    });
  }

  // Menus (<details>): Esc, a click elsewhere and the keyboard focus moving out of one close
  // them; only one is open at a time.
  function initMenus() {
    var menus = document.querySelectorAll('details[data-menu]');
    function closeAll(except) {
      menus.forEach(function (m) { if (m !== except) m.open = false; });
    }
    menus.forEach(function (m) {
      m.addEventListener('toggle', function () { if (m.open) closeAll(m); });
      // Tab out of a menu closes it. Focus going nowhere (another window, a click on plain
      // text) leaves it open; a click elsewhere closes it below.
      m.addEventListener('focusout', function (ev) {
        if (m.open && ev.relatedTarget && !m.contains(ev.relatedTarget)) m.open = false;
      });
    });
    document.addEventListener('click', function (ev) {
      menus.forEach(function (m) { if (m.open && !m.contains(ev.target)) m.open = false; });
    });
    // Esc closes an open menu; only when the focus was in it does it go back to the menu's
    // button, so that Esc does not pull the focus away from wherever the user is.
    document.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Escape') return;
      menus.forEach(function (m) {
        if (!m.open) return;
        var inside = m.contains(document.activeElement);
        m.open = false;
        var s = m.querySelector('summary');
        if (inside && s) s.focus();
      });
    });
  }

  // "/" jumps to the page's search box (the domain page's login filter), as on many sites,
  // unless the user is typing in a field or a dialog is open. Only then, with the script
  // running, does the box say so: aria-keyshortcuts, and its <kbd> hint gets the classes that
  // show it (data-shortcut-hint; the page itself keeps it hidden). A one-key shortcut can be
  // set off by a stray key (speech input dictating a "slash", a keyboard held down), so the
  // footer has a button that turns it off, and on again, for good in this browser
  // (localStorage; WCAG 2.1.4 Character Key Shortcuts).
  var slashKey = 'smtpdesk-slash';
  function initSlash() {
    var box = document.querySelector('[data-shortcut="/"]');
    if (!box) return;
    var store = null;
    try { store = window.localStorage; } catch (e) { store = null; }
    var on = true;
    try { on = !store || store.getItem(slashKey) !== 'off'; } catch (e) { on = true; }
    var hint = box.parentNode.querySelector('[data-shortcut-hint]');
    var hintClasses = hint ? hint.getAttribute('data-shortcut-hint').split(' ') : [];
    var footer = document.querySelector('footer > div');
    var toggle = null;
    // Without site storage (blocked for the site) the button is there all the same: the choice
    // then lasts as long as the page.
    if (footer) {
      var p = document.createElement('p');
      toggle = document.createElement('button');
      toggle.type = 'button';
      toggle.className = 'focus-ring -mx-1 inline-flex items-center rounded-sm px-1 underline underline-offset-2 max-sm:min-h-11';
      toggle.setAttribute('data-testid', 'slash-toggle');
      p.appendChild(toggle);
      footer.appendChild(p);
      toggle.addEventListener('click', function () {
        on = !on;
        try {
          if (store && on) { store.removeItem(slashKey); } else if (store) { store.setItem(slashKey, 'off'); }
        } catch (e) { /* not kept: the choice lasts as long as the page */ }
        show();
        announce(on ? 'The / shortcut is on.' : 'The / shortcut is off.');
      });
    }
    function show() {
      if (on) {
        box.setAttribute('aria-keyshortcuts', '/');
      } else {
        box.removeAttribute('aria-keyshortcuts');
      }
      if (hint) hintClasses.forEach(function (c) { if (c) hint.classList.toggle(c, on); });
      if (toggle) toggle.textContent = on ? 'Turn off the \u201c/\u201d shortcut' : 'Turn on the \u201c/\u201d shortcut';
    }
    show();
    // Turned off or on in another tab or window of this browser: this page follows (a "storage"
    // event comes only from the others, and clearing the site's data sends key null).
    window.addEventListener('storage', function (ev) {
      if (!store || (ev.key !== slashKey && ev.key !== null)) return;
      var now = true;
      try { now = store.getItem(slashKey) !== 'off'; } catch (e) { return; }
      if (now !== on) { on = now; show(); }
    });
    document.addEventListener('keydown', function (ev) {
      if (!on || ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
      var t = ev.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      if (document.querySelector('dialog[open]')) return;
      ev.preventDefault();
      box.focus();
      box.select();
    });
  }

  // Focus: a page may ask for an element to get focus (an error summary, the secrets panel).
  function initFocus() {
    var el = document.querySelector('[data-autofocus]');
    if (el && typeof el.focus === 'function') {
      el.focus({ preventScroll: false });
    }
  }

  // Just changed: the list a passwords page's "Done" (or a manual reset) leads to names the logins
  // it changed (?changed=), and the server marks their rows data-changed, which the style
  // highlights for a few seconds. Here the first such row is scrolled to the middle of the
  // screen (clear of the sticky header), its Reset link (else its login) takes the keyboard
  // focus, so that Tab goes on from there, and a screen reader hears which login it is. The row
  // is found by its attribute, never by building a selector from a login. ?changed= (with
  // ?entry=, the change's audit entry, and ?flash=, the message the page showed) then leaves
  // the address (which names the page shown), so that a reload or a bookmark does not point at
  // the login again; the mark
  // leaves the row once the focus does (it is what keeps the highlight when motion is reduced).
  function initChanged() {
    if (window.URL && window.history && typeof history.replaceState === 'function') {
      var u = new URL(window.location.href);
      var here = u.pathname + u.search;
      // The list may show another page than the address asks for (the page holding a login
      // just changed, or the last page when the one asked for is past the end); its table
      // names the view shown (data-view, which its delete dialog also carries back). The
      // address takes that view, so that a reload, a bookmark and the Referer of the forms
      // opened from here (reset, create, delete without the dialog), from which they lead back,
      // name the page the user sees.
      var table = document.querySelector('table.creds[data-view]');
      var shown = table ? table.getAttribute('data-view') : '';
      if (shown.charAt(0) === '/') {
        var v = new URL(shown, window.location.href);
        if (v.origin === u.origin) u = v;
      }
      u.searchParams.delete('changed');
      u.searchParams.delete('entry');
      u.searchParams.delete('flash');
      if (u.pathname + u.search !== here) {
        history.replaceState(history.state, '', u.pathname + u.search + window.location.hash);
      }
    }
    var rows = document.querySelectorAll('table.creds > tbody > tr[data-changed]');
    if (rows.length === 0) return;
    var row = rows[0];
    var target = row.querySelector('a.ar');
    if (!target) {
      target = row.querySelector('td > span[id]');
      if (target) target.setAttribute('tabindex', '-1');
    }
    if (target) target.focus({ preventScroll: true });
    row.scrollIntoView({ block: 'center' });
    var login = row.getAttribute('data-login');
    // The flashes are not announced on their own here (initFlashes), and the focus goes past
    // them to the row, which the page scrolls to (on a laptop the message above the list was then
    // out of sight): they are said first, the success ("Created 4 logins in acme.example.") and a
    // warning among them (another user reset or deleted the login since) alike, or a screen
    // reader would hear only that the row changed.
    var said = [];
    document.querySelectorAll('[data-flash] > p').forEach(function (p) {
      said.push(p.textContent.trim());
    });
    if (document.querySelector('[data-flash][data-kind="success"]')) {
      // The success names what changed already.
      said.push(rows.length === 1 ? 'Its row has the focus.'
        : rows.length + ' of them on this page, from ' + login + ', whose row has the focus.');
    } else {
      said.push(rows.length === 1 ? 'Just changed: ' + login + '. Its row has the focus.'
        : 'Just changed: ' + rows.length + ' logins on this page, from ' + login + '. Its row has the focus.');
    }
    announce(said.join(' '));
    row.addEventListener('focusout', function (ev) {
      // Moving within the row, or to another window and back, is not moving on.
      if ((ev.relatedTarget && row.contains(ev.relatedTarget)) || !document.hasFocus()) return;
      rows.forEach(function (r) { r.removeAttribute('data-changed'); });
    });
  }

  // A form that changes something is sent once: a second click or Enter while the first sending
  // is on its way does nothing (the server would refuse it as already sent, and the browser would
  // show that answer instead of the first one, which may hold a new password). A form whose
  // sending another script stopped (a confirmation dialog) is not marked; coming back to the page
  // (the back button) clears the mark. The button that sent it shows a spinner meanwhile.
  function initSendOnce() {
    document.addEventListener('submit', function (ev) {
      var form = ev.target;
      if (ev.defaultPrevented || !form || (form.getAttribute('method') || '').toLowerCase() !== 'post') return;
      if (form.hasAttribute('data-sending')) {
        ev.preventDefault();
        return;
      }
      form.setAttribute('data-sending', '');
      form.setAttribute('aria-busy', 'true');
      var btn = ev.submitter || form.querySelector('[type="submit"]');
      if (btn) btn.setAttribute('data-busy', '');
      form.querySelectorAll('a[href]').forEach(function (a) {
        a.setAttribute('aria-disabled', 'true');
        a.title = 'Already sent: this cannot be called back';
      });
    });
    // A link in a form on its way (its Cancel) cannot call the change back, and leaving would
    // lose the answer, which may hold a password shown only once: it does nothing meanwhile.
    document.addEventListener('click', function (ev) {
      var link = ev.target && ev.target.closest ? ev.target.closest('form[data-sending] a[href]') : null;
      if (link) ev.preventDefault();
    });
    function unmark() {
      document.querySelectorAll('form[data-sending]').forEach(function (f) {
        f.removeAttribute('data-sending');
        f.removeAttribute('aria-busy');
        f.querySelectorAll('[data-busy]').forEach(function (b) { b.removeAttribute('data-busy'); });
        f.querySelectorAll('a[aria-disabled]').forEach(function (a) {
          a.removeAttribute('aria-disabled');
          a.removeAttribute('title');
        });
      });
    }
    window.addEventListener('pageshow', unmark);
    onSendingStopped(function () {
      unmark();
      announce('Sending stopped. The change may have been made already: check the list before sending it again.');
    });
  }

  // onSendingStopped calls fn when the sending of a form is stopped before its answer came (the
  // browser's Stop button, or Esc while the page loads): the page stays, and no pageshow comes
  // to undo what was marked for the sending. Browsers without the Navigation API keep the mark
  // until the page is shown again.
  var stoppedHandlers = [];
  function onSendingStopped(fn) {
    if (stoppedHandlers.push(fn) > 1 || !window.navigation || !window.navigation.addEventListener) return;
    window.navigation.addEventListener('navigate', function (ev) {
      if (!ev.formData || !ev.signal) return;
      ev.signal.addEventListener('abort', function () {
        // The signal also ends when the answer replaces this page: only a page still shown
        // (not being left) was stopped.
        window.setTimeout(function () {
          if (document.visibilityState === 'hidden') return;
          stoppedHandlers.forEach(function (h) { h(); });
        }, 0);
      });
    });
  }

  // A link marked data-replace (a passwords page's "Done") replaces the page in the history
  // instead of adding an entry: the page is the answer to a form, and Back onto it made the
  // browser ask to send the form again (an error page first, and "already sent" after).
  function initReplaceLinks() {
    document.querySelectorAll('a[data-replace]').forEach(function (link) {
      link.addEventListener('click', function (ev) {
        if (ev.defaultPrevented || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey || ev.button !== 0) return;
        ev.preventDefault();
        window.location.replace(link.href);
      });
    });
  }

  // A page that answers a form sent with POST (the server marks its body) becomes, in the
  // history, a GET of its address: Back onto it or a reload fetches the form again, where the
  // browser asked to send the form again (its ERR_CACHE_MISS page first). Not a page showing
  // passwords: its reload sends the form again on purpose, and is told that it was sent already.
  function initPostAnswer() {
    if (!document.body.hasAttribute('data-post-answer') || document.querySelector('[data-secret-for]')) return;
    if (!window.history || typeof window.history.replaceState !== 'function') return;
    var to = window.location.href;
    // A page may name another address for its entry (data-post-answer="/d/…"): the Done page
    // after a delete, whose form's address is the delete page of a login that is gone.
    var named = document.body.getAttribute('data-post-answer');
    if (named && window.URL) {
      var u = new URL(named, to);
      if (u.origin === window.location.origin) to = u.pathname + u.search;
    }
    window.history.replaceState(window.history.state, '', to);
  }

  // A field's error from the server is about what was sent: once the field is typed into, it
  // no longer says what is there (the "passwords were different" stayed under two matching
  // passwords that the browser then refused as too short). The server checks again. The fields
  // it describes stop naming it too: a screen reader reads a hidden element named in
  // aria-describedby all the same, and went on saying the passwords were different.
  // An error may be about several fields: its own (its id without "-error") and every other it
  // marks invalid and is described by (the audit filter's from date after its to date is one
  // error of both dates); a change to any of them answers it.
  function initFieldErrors() {
    document.querySelectorAll('p.field-error[id$="-error"]').forEach(function (err) {
      var fields = [];
      var own = document.getElementById(err.id.slice(0, -'-error'.length));
      if (own && 'value' in own) fields.push(own);
      document.querySelectorAll('[aria-invalid="true"][aria-describedby]').forEach(function (el) {
        if (fields.indexOf(el) < 0 && 'value' in el &&
            el.getAttribute('aria-describedby').split(/\s+/).indexOf(err.id) >= 0) {
          fields.push(el);
        }
      });
      var answered = false;
      function answer() {
        if (answered) return;
        answered = true;
        err.hidden = true;
        fields.forEach(function (f) { f.removeAttribute('aria-invalid'); });
        document.querySelectorAll('[aria-describedby]').forEach(function (el) {
          var ids = el.getAttribute('aria-describedby').split(/\s+/).filter(function (id) { return id !== '' && id !== err.id; });
          if (ids.length > 0) {
            el.setAttribute('aria-describedby', ids.join(' '));
          } else {
            el.removeAttribute('aria-describedby');
          }
        });
      }
      fields.forEach(function (f) { f.addEventListener('input', answer, {once: true}); });
    });
  }

  // Drafts: what is typed into a form marked data-draft (the create form's logins and mode, never
  // a password or a token) is kept in this tab's sessionStorage while the form is sent. When the
  // answer says the session had ended or the form had expired (its data-draft-kept note), the
  // draft is kept, and the page says so; the form's page, shown again (after signing in, or
  // "Open the form again"), fills it in where nothing is typed yet and says so. Any other page
  // forgets it. Before, what was typed was lost with the session.
  var draftKey = 'smtpdesk-draft';
  function initDrafts() {
    var store = null;
    try { store = window.sessionStorage; } catch (e) { return; }
    if (!store) return;
    var draft = null;
    try { draft = JSON.parse(store.getItem(draftKey) || 'null'); } catch (e) { draft = null; }
    var kept = document.querySelector('[data-draft-kept]');
    if (draft && kept) {
      draft.refused = true;
      try { store.setItem(draftKey, JSON.stringify(draft)); } catch (e) { return; }
      kept.hidden = false;
      document.querySelectorAll('[data-draft-lost]').forEach(function (el) { el.hidden = true; });
    } else if (draft) {
      store.removeItem(draftKey);
      if (draft.refused && !document.body.hasAttribute('data-post-answer')) restoreDraft(draft);
    }
    document.addEventListener('submit', function (ev) {
      var form = ev.target;
      if (ev.defaultPrevented || !form || !form.matches || !form.matches('form[data-draft]')) return;
      var fields = [];
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.name.charAt(0) === '_' || /^(password|hidden|submit|button|file)$/.test(el.type)) return;
        if ((el.type === 'radio' || el.type === 'checkbox') && !el.checked) return;
        fields.push([el.name, el.value]);
      });
      try {
        store.setItem(draftKey, JSON.stringify({path: new URL(form.action, window.location.href).pathname, fields: fields}));
      } catch (e) { /* full or refused: nothing is kept, as without the script */ }
    });
  }

  function restoreDraft(draft) {
    var form = document.querySelector('form[data-draft]');
    if (!form || new URL(form.action, window.location.href).pathname !== draft.path || !Array.isArray(draft.fields)) return;
    var filled = false;
    draft.fields.forEach(function (f) {
      var els = form.elements.namedItem(f[0]);
      if (!els) return;
      (els.length !== undefined && !els.tagName ? Array.prototype.slice.call(els) : [els]).forEach(function (el) {
        if (el.type === 'radio' || el.type === 'checkbox') {
          if (el.value === f[1] && !el.checked) {
            el.checked = true;
            el.dispatchEvent(new Event('change', {bubbles: true}));
          }
        } else if ('value' in el && el.value === '' && f[1] !== '') {
          el.value = f[1];
          filled = true;
        }
      });
    });
    var note = document.querySelector('[data-draft-restored]');
    if (filled && note) note.hidden = false;
  }

  ready(function () {
    initPostAnswer();
    initFieldErrors();
    initReplaceLinks();
    initSendOnce();
    initCopy();
    initFlashes();
    initConfirm();
    initConfirmMatch();
    initTimes();
    initZone();
    initAutosubmit();
    initModeToggle();
    initMenus();
    initSlash();
    initFocus();
    initChanged();
    initDrafts();
  });
})();
