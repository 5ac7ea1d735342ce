// Applies the remembered theme before the first paint, so a dark-theme user never sees a white
// flash. A classic script on purpose (modules are deferred). The toggle lives in theme.js.
(function () {
  try {
    var theme = localStorage.getItem('mailsnare.theme');
    if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  } catch (e) { /* storage disabled: follow the system */ }
})();
