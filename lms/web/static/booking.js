/* The booking page's only script; every page works without it.
   It picks the device's time zone (the choices page suggests it; the private link's page
   shows times in it), and moves focus to what went wrong so screen readers say it first. */
(function () {
  "use strict";

  function deviceZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  function useDeviceZone(select) {
    var how = select.getAttribute("data-device-zone");
    var zone = deviceZone();
    if (!how || !zone || select.value === zone) {
      return;
    }
    var known = Array.prototype.some.call(select.options, function (option) {
      return option.value === zone;
    });
    if (!known) {
      select.add(new Option(zone.replace(/_/g, " "), zone), 0);
    }
    select.value = zone;
    var said = document.getElementById("tz-detected");
    if (said) {
      said.textContent = "Your device says " + zone.replace(/_/g, " ") + ".";
    }
    if (how === "follow" && select.form) {
      select.form.submit();
    }
  }

  var select = document.getElementById("tz");
  if (select) {
    useDeviceZone(select);
  }
  var first = document.querySelector("[data-focus-on-load]");
  if (first) {
    first.focus();
  }
})();
