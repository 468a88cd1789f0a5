// The Connect pages' only script, served by the grid. It never posts a message to '*' except the content-free 'ready'
// of the embedded page, and reports results only to the grid's own origin or to an origin the tenant allowed.
// Messages follow @nangohq/frontend's Connect UI events: {type: 'connect', payload: {providerConfigKey, connectionId}}
// and {type: 'error', payload: {errorType, errorMessage}}, plus {type: 'ready' | 'close'} when embedded.
(function () {
  'use strict';
  var main = document.getElementById('main');
  if (!main) { return; }
  var data = main.dataset;
  var origins = (data.origins || '').split(' ').filter(Boolean);
  var statusLine = document.getElementById('status');

  function say(text) { if (statusLine) { statusLine.textContent = text; } }

  function sameOrigin(win) {
    try { return win.location.origin === window.location.origin; } catch (e) { return false; }
  }

  // The result as an event for the application: ids and codes, never a token.
  function eventOf(result) {
    return result.result === 'success'
      ? { type: 'connect', payload: { providerConfigKey: result.integration, connectionId: result.connectionId } }
      : { type: 'error', payload: { errorType: result.errorCode || 'unknown_error', errorMessage: result.errorMessage || '' } };
  }

  function postToAllowed(win, message) {
    // The browser delivers to the one origin the other window has, if it is among them; to no other.
    origins.forEach(function (origin) { win.postMessage(message, origin); });
  }

  function returnLink(result) {
    if (!data.returnUrl) { return null; }
    var url = new URL(data.returnUrl);
    url.searchParams.set('result', result.result);
    if (result.integration) { url.searchParams.set('provider_config_key', result.integration); }
    if (result.connectionId) { url.searchParams.set('connection_id', result.connectionId); }
    if (result.result !== 'success' && result.errorCode) { url.searchParams.set('error', result.errorCode); }
    return url.href;
  }

  // ---- The callback's page: report to the window that opened this one, or end on the return URL.
  if (data.page === 'result') {
    var result = { result: data.result, integration: data.integration, connectionId: data.connectionId, errorCode: data.errorCode, errorMessage: data.errorMessage };
    var opener = window.opener;
    if (opener && !opener.closed) {
      if (sameOrigin(opener)) {
        var own = eventOf(result);
        own.source = 'connectiongrid';
        opener.postMessage(own, window.location.origin);
        window.close();
      } else if (origins.length > 0) {
        postToAllowed(opener, eventOf(result));
        window.close();
      } else {
        say('You can close this window now.');
      }
    } else if (data.returnUrl) {
      say('Returning to the application…');
      window.location.replace(data.returnUrl);
    }
    return;
  }

  // ---- The connect page (a connect link) and the embedded page (@nangohq/frontend's openConnectUI).
  var choose = document.getElementById('choose');
  var waiting = document.getElementById('waiting');
  var resultSection = document.getElementById('result');
  var authWindow = null; // the consent window of the flow under way
  var flowWindow = null; // the last consent window: its result is taken even after it was seen closed
  var watch = null;
  var parentTarget = null; // embedded: {win, origin} once the session confirmed the parent's origin

  function show(section) {
    [choose, waiting, resultSection].forEach(function (s) { if (s) { s.hidden = s !== section; } });
    var heading = section && section.querySelector('h2');
    if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus(); }
  }

  function forward(event) {
    var message = { type: event.type, payload: event.payload };
    if (parentTarget) {
      parentTarget.win.postMessage(message, parentTarget.origin);
      return;
    }
    if (window.opener && !window.opener.closed && !sameOrigin(window.opener) && origins.length > 0) {
      postToAllowed(window.opener, message);
      window.close();
      return;
    }
    if (window.parent !== window && origins.length > 0) {
      postToAllowed(window.parent, message);
      return;
    }
    var link = returnLink(event.type === 'connect'
      ? { result: 'success', integration: event.payload.providerConfigKey, connectionId: event.payload.connectionId }
      : { result: 'error', integration: currentIntegration, errorCode: event.payload.errorType });
    if (link) {
      say('Returning to the application…');
      window.location.replace(link);
    }
  }

  var currentIntegration = null;

  function finish(event) {
    if (watch) { clearInterval(watch); watch = null; }
    authWindow = null;
    flowWindow = null;
    var ok = event.type === 'connect';
    document.getElementById('result-heading').textContent = ok ? 'Connected' : 'Could not connect';
    document.getElementById('result-message').textContent = ok
      ? 'Your account is connected. You can go back to the application.'
      : (event.payload.errorMessage || 'The connection failed.');
    var code = document.getElementById('result-code');
    code.hidden = ok;
    code.querySelector('code').textContent = ok ? '' : event.payload.errorType;
    document.getElementById('again').hidden = ok;
    show(resultSection);
    say(ok ? 'Connected.' : 'Could not connect: ' + event.payload.errorType + '.');
    forward(event);
  }

  function start(form, event) {
    var url = form.action + '?' + new URLSearchParams(new FormData(form)).toString();
    var win = window.open(url, 'cg_authorize', 'popup=yes,width=600,height=720');
    if (!win) {
      return; // popups blocked: the form goes on in this window, and the callback's page reports the result
    }
    event.preventDefault();
    authWindow = win;
    flowWindow = win;
    currentIntegration = form.dataset.integration;
    show(waiting);
    say('Waiting for your consent at the provider, in the window that opened.');
    // The result page posts its message and closes itself; the browser may run this timer between the two (they are
    // separate task queues), so a window seen closed gets three more ticks before the flow counts as abandoned.
    var closedTicks = 0;
    if (watch) { clearInterval(watch); }
    watch = setInterval(function () {
      if (!authWindow || !authWindow.closed || ++closedTicks <= 3) { return; }
      clearInterval(watch);
      watch = null;
      authWindow = null;
      show(choose);
      say('The consent window was closed before it finished. Nothing was connected.');
    }, 500);
  }

  function wire(form) {
    form.addEventListener('submit', function (event) { start(form, event); });
  }

  Array.prototype.forEach.call(document.querySelectorAll('form[data-integration]'), wire);

  window.addEventListener('message', function (event) {
    if (event.origin !== window.location.origin || !flowWindow || event.source !== flowWindow) { return; }
    var message = event.data;
    if (!message || message.source !== 'connectiongrid' || (message.type !== 'connect' && message.type !== 'error')) { return; }
    finish(message);
  });

  var cancel = document.getElementById('cancel');
  if (cancel) {
    cancel.addEventListener('click', function () {
      if (authWindow) { authWindow.close(); }
    });
  }
  var again = document.getElementById('again');
  if (again) {
    again.addEventListener('click', function () { show(choose); say(''); });
  }

  if (data.page !== 'embedded') { return; }

  // ---- Embedded: the SDK frames this page, waits for 'ready', then posts the session token.
  var note = document.getElementById('embed-note');
  var close = document.getElementById('close');
  close.addEventListener('click', function () {
    if (parentTarget) { parentTarget.win.postMessage({ type: 'close' }, parentTarget.origin); }
  });

  function fail(text) {
    note.textContent = text;
    say(text);
  }

  function render(session, token) {
    var list = document.getElementById('integrations');
    session.integrations.forEach(function (integration) {
      var item = document.createElement('li');
      var form = document.createElement('form');
      form.method = 'get';
      form.action = '/oauth/connect/' + encodeURIComponent(integration.unique_key);
      form.dataset.integration = integration.unique_key;
      var hidden = document.createElement('input');
      hidden.type = 'hidden';
      hidden.name = 'connect_session_token';
      hidden.value = token;
      var button = document.createElement('button');
      button.type = 'submit';
      button.className = 'button';
      button.id = 'connect-' + integration.unique_key;
      button.textContent = (session.is_reconnecting ? 'Reconnect ' : 'Connect ') + (integration.display_name || integration.unique_key);
      form.appendChild(hidden);
      form.appendChild(button);
      item.appendChild(form);
      list.appendChild(item);
      wire(form);
    });
    note.textContent = 'You will be asked to consent at the provider, in a new window.';
  }

  window.addEventListener('message', function (event) {
    var message = event.data;
    if (parentTarget || event.source !== window.parent || window.parent === window || !message || message.type !== 'session_token' || typeof message.sessionToken !== 'string') {
      return;
    }
    var token = message.sessionToken;
    var from = event.origin;
    fetch('/connect/session', { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'omit' })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body || !body.data) {
          fail('This connect session has expired or is not valid. Go back to the application and start again.');
          return;
        }
        if ((body.data.allowed_origins || []).indexOf(from) < 0) {
          fail('This page was opened by a site its owner has not allowed (' + from + '). Nothing was connected.');
          return;
        }
        parentTarget = { win: event.source, origin: from };
        render(body.data, token);
      })
      .catch(function () { fail('The grid could not be reached. Go back to the application and try again.'); });
  });

  if (window.parent === window) {
    fail('This page is opened by the application. Go back to the application and start connecting there.');
  } else {
    // Carries nothing: it only tells the SDK to send the session token.
    window.parent.postMessage({ type: 'ready' }, '*');
  }
})();
