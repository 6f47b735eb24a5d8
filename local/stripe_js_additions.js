// billow's additions to localstripe's Stripe.js (local/stripe_js_additions.py serves localstripe-v3.js
// and then this, as one script). localstripe's `createPaymentMethod` is an empty stub and its
// `confirmCardPayment` ignores the card; these replace them — and `confirmCardSetup`, to take a card
// Element or a PaymentMethod id — copying what Stripe.js does (https://docs.stripe.com/js), so that a
// console written for Stripe.js runs unchanged on the local stack. Uses what localstripe's script
// defines: `Stripe`, `Element` (the card Element) and `LOCALSTRIPE_BASE_API`.
(function () {
  'use strict';

  const FIELDS = {
    number: { label: 'Card number', autocomplete: 'cc-number' },
    exp_month: { label: 'Expiry month (MM)', autocomplete: 'cc-exp-month' },
    exp_year: { label: 'Expiry year (YY)', autocomplete: 'cc-exp-year' },
    cvc: { label: 'CVC', autocomplete: 'cc-csc' },
    postal_code: { label: 'Postal code', autocomplete: 'postal-code' },
  };

  // The card Element, labelled: Stripe's own Element is an iframe with labelled inputs; localstripe's
  // renders bare inputs with placeholders only. Each gets a name, an accessible label and the
  // autocomplete token browsers use for cards; Tab moves through them in order.
  const baseMount = Element.prototype.mount;
  Element.prototype.mount = function (domElement) {
    baseMount.call(this, domElement);
    if (!this._inputs) return;
    const prefix = this._domChildren[0];
    if (prefix && prefix.tagName === 'SPAN') prefix.setAttribute('aria-hidden', 'true');
    Object.entries(this._inputs).forEach(([field, input]) => {
      input.name = field;
      input.setAttribute('aria-label', FIELDS[field].label);
      input.setAttribute('autocomplete', FIELDS[field].autocomplete);
      if (field !== 'postal_code') input.setAttribute('inputmode', 'numeric');
    });
  };

  // Stripe's form encoding of nested parameters (a[b][c]=v), as Stripe.js posts them.
  function encode(value, prefix, pairs) {
    if (value !== null && typeof value === 'object') {
      Object.entries(value).forEach(([k, v]) => encode(v, prefix ? `${prefix}[${k}]` : k, pairs));
    } else if (value !== undefined && value !== null) {
      pairs.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(String(value))}`);
    }
    return pairs;
  }

  async function call(method, path, params) {
    const url = `${LOCALSTRIPE_BASE_API}${path}`;
    const body = encode(params, '', []).join('&');
    const response = method === 'GET'
      ? await fetch(`${url}?${body}`)
      : await fetch(url, {
        method,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body,
      });
    const json = await response.json().catch(() => ({}));
    if (response.status !== 200 || json.error) {
      return { error: json.error || { type: 'api_error', message: `HTTP ${response.status}` } };
    }
    return { object: json };
  }

  // What Stripe.js checks in the card Element before sending anything (its `validation_error`s).
  function luhn(number) {
    let sum = 0;
    for (let i = 0; i < number.length; i += 1) {
      let digit = Number(number[number.length - 1 - i]);
      if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    return sum % 10 === 0;
  }

  function invalid(code, message) {
    return { error: { type: 'validation_error', code, message } };
  }

  function cardOf(element) {
    if (!element || !element._inputs) return invalid('incomplete_number', 'Your card number is incomplete.');
    const value = (field) => element._inputs[field].value.replace(/\s+/g, '');
    const number = value('number');
    const month = value('exp_month');
    const year = value('exp_year');
    const cvc = value('cvc');
    if (!/^\d{12,19}$/.test(number)) return invalid('incomplete_number', 'Your card number is incomplete.');
    if (!luhn(number)) return invalid('invalid_number', 'Your card number is invalid.');
    if (!/^\d{1,2}$/.test(month) || !/^\d{2}$/.test(year)) {
      return invalid('incomplete_expiry', "Your card's expiration date is incomplete.");
    }
    const expMonth = Number(month);
    const expYear = 2000 + Number(year);
    const now = new Date();
    if (expMonth < 1 || expMonth > 12) return invalid('invalid_expiry_month', "Your card's expiration date is invalid.");
    if (expYear < now.getFullYear() || (expYear === now.getFullYear() && expMonth < now.getMonth() + 1)) {
      return invalid('invalid_expiry_year_past', "Your card's expiration year is in the past.");
    }
    if (!/^\d{3,4}$/.test(cvc)) return invalid('incomplete_cvc', "Your card's security code is incomplete.");
    return { card: { number, exp_month: expMonth, exp_year: expYear, cvc } };
  }

  // `payment_method` as Stripe.js takes it: a PaymentMethod id, or {card: cardElement, billing_details}.
  function paymentMethodParams(paymentMethod) {
    if (typeof paymentMethod === 'string') return { params: { payment_method: paymentMethod } };
    const { card, error } = cardOf(paymentMethod.card);
    if (error) return { error };
    const data = { type: 'card', card };
    if (paymentMethod.billing_details) data.billing_details = paymentMethod.billing_details;
    return { params: { payment_method_data: data } };
  }

  // The 3-D Secure step Stripe.js shows in its own modal (Stripe's test page has the same two buttons).
  function authenticate() {
    return new Promise((resolve) => {
      const dialog = document.createElement('div');
      dialog.setAttribute('role', 'dialog');
      dialog.setAttribute('aria-modal', 'true');
      dialog.setAttribute('aria-labelledby', 'localstripe-3ds-title');
      Object.assign(dialog.style, {
        position: 'fixed', inset: '0', margin: 'auto', width: 'min(320px, 90vw)', height: 'fit-content',
        padding: '16px', border: '3px solid #555', background: '#fff', color: '#111', 'z-index': '2147483647',
        'text-align': 'center', 'font-family': 'sans-serif',
      });
      const title = document.createElement('h2');
      title.id = 'localstripe-3ds-title';
      title.textContent = '3D Secure';
      const text = document.createElement('p');
      text.textContent = 'Your bank asks you to confirm this payment (local test).';
      const complete = document.createElement('button');
      complete.type = 'button';
      complete.textContent = 'Complete authentication';
      const fail = document.createElement('button');
      fail.type = 'button';
      fail.textContent = 'Fail authentication';
      fail.style.marginLeft = '8px';
      const done = (success) => { dialog.remove(); resolve(success); };
      complete.addEventListener('click', () => done(true));
      fail.addEventListener('click', () => done(false));
      dialog.addEventListener('keydown', (event) => { if (event.key === 'Escape') done(false); });
      dialog.append(title, text, complete, fail);
      document.body.appendChild(dialog);
      complete.focus();
    });
  }

  function intentId(clientSecret, prefix) {
    const match = typeof clientSecret === 'string' && clientSecret.match(new RegExp(`^(${prefix}_\\w+)_secret_`));
    return match ? match[1] : null;
  }

  const baseStripe = Stripe;
  Stripe = function (apiKey, options) { // eslint-disable-line no-global-assign
    const stripe = baseStripe(apiKey, options);

    // stripe.retrievePaymentIntent(clientSecret) -> {paymentIntent} | {error}
    // (https://docs.stripe.com/js/payment_intents/retrieve_payment_intent)
    stripe.retrievePaymentIntent = async (clientSecret) => {
      const pi = intentId(clientSecret, 'pi');
      if (!pi) return { error: { type: 'invalid_request_error', message: 'Invalid client_secret' } };
      const { object, error } = await call('GET', `/v1/payment_intents/${pi}`, { key: apiKey, client_secret: clientSecret });
      return error ? { error } : { paymentIntent: object };
    };

    // stripe.createPaymentMethod({type: 'card', card: cardElement, billing_details}) — or the older
    // createPaymentMethod('card', cardElement, {billing_details}) — -> {paymentMethod} | {error}: the card
    // details go to Stripe (POST /v1/payment_methods with the publishable key), never to the merchant
    // (https://docs.stripe.com/js/payment_methods/create_payment_method).
    stripe.createPaymentMethod = async (typeOrData, element, extra) => {
      const data = typeof typeOrData === 'string' ? { type: typeOrData, card: element, ...(extra || {}) } : typeOrData;
      if (!data || data.type !== 'card') {
        return { error: { type: 'invalid_request_error', message: 'Only type "card" is supported locally' } };
      }
      const { card, error: invalidCard } = cardOf(data.card);
      if (invalidCard) return { error: invalidCard };
      const params = { key: apiKey, type: 'card', card, payment_user_agent: 'stripe.js (localstripe, billow)' };
      if (data.billing_details) params.billing_details = data.billing_details;
      const { object, error } = await call('POST', '/v1/payment_methods', params);
      return error ? { error } : { paymentMethod: object };
    };

    // After the 3-D Secure step: Stripe.js's answer for a PaymentIntent (https://docs.stripe.com/js/payment_intents/confirm_card_payment).
    async function afterAuthentication(clientSecret, pi) {
      const success = await authenticate();
      const { object, error } = await call('POST', `/v1/payment_intents/${pi}/_authenticate?success=${success}`, {
        key: apiKey, client_secret: clientSecret,
      });
      if (error) return { error };
      if (object.status === 'requires_payment_method') {
        return {
          error: {
            type: 'card_error',
            code: 'payment_intent_authentication_failure',
            message: 'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
            payment_intent: object,
          },
        };
      }
      return { paymentIntent: object };
    }

    // stripe.confirmCardPayment(clientSecret, {payment_method}?, {handleActions}?) -> {paymentIntent} | {error}:
    // confirms the PaymentIntent with the card given (an Element's details or a PaymentMethod id) —
    // or, without one, with the method it already has —, then runs the 3-D Secure step when the
    // PaymentIntent requires action (unless handleActions is false), as Stripe.js does.
    stripe.confirmCardPayment = async (clientSecret, data, options) => {
      const pi = intentId(clientSecret, 'pi');
      if (!pi) return { error: { type: 'invalid_request_error', message: 'Invalid client_secret' } };
      let result;
      if (data && data.payment_method) {
        const { params, error } = paymentMethodParams(data.payment_method);
        if (error) return { error };
        result = await call('POST', `/v1/payment_intents/${pi}/confirm`, { key: apiKey, client_secret: clientSecret, ...params });
      } else {
        result = await call('GET', `/v1/payment_intents/${pi}`, { key: apiKey, client_secret: clientSecret });
        if (!result.error && result.object.status === 'requires_confirmation') {
          result = await call('POST', `/v1/payment_intents/${pi}/confirm`, { key: apiKey, client_secret: clientSecret });
        }
      }
      if (result.error) return { error: result.error };
      const intent = result.object;
      if (intent.status === 'requires_action' && !(options && options.handleActions === false)) {
        return afterAuthentication(clientSecret, pi);
      }
      if (intent.status === 'requires_payment_method') {
        return { error: { type: 'card_error', message: 'The payment could not be completed.', payment_intent: intent } };
      }
      return { paymentIntent: intent };
    };

    // stripe.confirmCardSetup(clientSecret, {payment_method}?) -> {setupIntent} | {error}: saves the card
    // given (an Element's details or a PaymentMethod id); a card that needs 3-D Secure shows the step,
    // then the SetupIntent is confirmed again (or cancelled when it fails), as Stripe.js does
    // (https://docs.stripe.com/js/setup_intents/confirm_card_setup).
    stripe.confirmCardSetup = async (clientSecret, data) => {
      const seti = intentId(clientSecret, 'seti');
      if (!seti) return { error: { type: 'invalid_request_error', message: 'Invalid client_secret' } };
      let params = {};
      if (data && data.payment_method) {
        const built = paymentMethodParams(data.payment_method);
        if (built.error) return { error: built.error };
        params = built.params;
      }
      const base = { key: apiKey, client_secret: clientSecret, use_stripe_sdk: true };
      const first = await call('POST', `/v1/setup_intents/${seti}/confirm`, { ...base, ...params });
      if (first.error) return { error: first.error };
      if (first.object.status === 'succeeded') return { setupIntent: first.object };
      if (first.object.status !== 'requires_action') {
        return { error: { type: 'invalid_request_error', message: `setup_intent has status ${first.object.status}` } };
      }
      const success = await authenticate();
      const second = await call('POST', `/v1/setup_intents/${seti}/${success ? 'confirm' : 'cancel'}`, base);
      if (second.error) return { error: second.error };
      if (second.object.status === 'succeeded') return { setupIntent: second.object };
      return {
        error: {
          type: 'card_error',
          code: 'setup_intent_authentication_failure',
          message: 'The latest attempt to set up the payment method has failed because authentication failed.',
          setup_intent: second.object,
        },
      };
    };

    return stripe;
  };
}());
