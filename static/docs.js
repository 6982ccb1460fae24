// Starts Swagger UI on /docs. A file, not an inline script: the page's CSP allows only 'self'.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // never call a third-party validator
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
})();
