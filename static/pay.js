// The card step of a payment: the one part of the pages that needs JavaScript.
// Works with Stripe.js and with localstripe's stand-in, which share createToken and
// confirmCardPayment but not createPaymentMethod (the stand-in's returns nothing).
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form || typeof Stripe !== "function") { return; }
  var stripe = Stripe(form.dataset.key);
  var card = stripe.elements().create("card");
  var error = document.getElementById("card-error");
  var button = document.getElementById("card-submit");
  form.hidden = false;
  card.mount("#card-element");

  function fail(message) {
    error.textContent = message || form.dataset.msgFailed;
    button.disabled = false;
  }

  // A PaymentMethod from Stripe.js; where it cannot make one, the card of a token stands in.
  async function cardId() {
    var made = await stripe.createPaymentMethod({ type: "card", card: card });
    if (made && made.paymentMethod) { return { id: made.paymentMethod.id }; }
    if (made && made.error) { return { error: made.error.message }; }
    var tokenized = await stripe.createToken(card);
    if (tokenized.error) { return { error: tokenized.error.message }; }
    return { id: tokenized.token.card.id };
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    error.textContent = form.dataset.msgWorking;
    var made = await cardId();
    if (!made.id) { return fail(made.error); }
    var answer = await fetch(form.dataset.confirmUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": form.dataset.csrf },
      body: JSON.stringify({ payment_method: made.id })
    });
    var body = await answer.json().catch(function () { return {}; });
    if (!answer.ok) { return fail(body.detail); }
    if (body.requires_action) {
      // 3-D Secure: Stripe.js shows the bank's page; the webhook books the outcome.
      var confirmed = await stripe.confirmCardPayment(body.client_secret);
      if (confirmed.error) { error.textContent = confirmed.error.message || ""; }
    }
    window.location.reload();  // the page shows the payment as the server now knows it
  });
})();
