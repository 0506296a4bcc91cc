// Served by course_utils.netron_server with Netron's page: prepare Netron for use inside a notebook output.
(function () {
  // Netron asks for cookie consent until it finds a 'consent' cookie; on 127.0.0.1 or behind a hub proxy it
  // cannot keep one (or would write it onto the notebook's own origin). Answer 'yes' and drop its cookie writes.
  try {
    Object.defineProperty(document, "cookie", {
      configurable: true,
      get: function () { return "consent=1"; },
      set: function () {}
    });
  } catch (e) {}
  // No usage analytics: Netron reports through navigator.sendBeacon (the CSP blocks it too).
  try {
    Object.defineProperty(navigator, "sendBeacon", { configurable: true, value: function () { return true; } });
  } catch (e) {}
})();
