/* surveil daily report: draws every chart from the page's JSON; marks each container with
   data-rendered="true" once drawn (data-error when it could not be), which the browser test
   reads. Times are seconds since midnight, exchange time. */
(function () {
  "use strict";
  const spec = JSON.parse(document.getElementById("report-data").textContent);
  const RULE_COLOURS = ["#0969da", "#cf222e", "#8250df", "#bf8700", "#1a7f37", "#57606a", "#e16f24", "#1b7c83"];
  const BUY = "#0969da", SELL = "#e16f24", MARKET = "#8c959f";
  const charts = {};

  Chart.defaults.font.family = "Inter, 'Segoe UI', system-ui, sans-serif";
  Chart.defaults.font.size = 11;
  Chart.defaults.color = "#59636e";
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.devicePixelRatio = Math.max(2, window.devicePixelRatio || 1);

  const pad = (n, w) => String(n).padStart(w || 2, "0");
  function clock(seconds, ms) {
    const s = Math.floor(seconds), rest = Math.round((seconds - s) * 1000);
    const text = pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60);
    return ms ? text + "." + pad(rest, 3) : text;
  }
  const number = (v, digits) => v.toLocaleString("en-US", { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });

  const rendered = {
    id: "surveilRendered",
    afterRender(chart) { chart.canvas.closest(".chart").dataset.rendered = "true"; },
  };

  function timeAxis(data) {
    return {
      type: "linear", min: data.start, max: data.end,
      ticks: { callback: (v) => clock(v), maxRotation: 0, autoSkipPadding: 16 },
      grid: { color: "#eef1f4" },
    };
  }

  function zoom(group) {
    return {
      zoom: {
        drag: { enabled: true, backgroundColor: "rgba(9,105,218,0.12)" },
        wheel: { enabled: true, modifierKey: "ctrl" },
        mode: "x",
        onZoomComplete: ({ chart }) => linkZoom(group, chart),
      },
      limits: { x: { min: "original", max: "original" } },
    };
  }

  /* The price and resting charts of one alert share their time axis. */
  function linkZoom(group, source) {
    if (!group) return;
    const { min, max } = source.scales.x;
    for (const [id, chart] of Object.entries(charts)) {
      if (chart !== source && id.startsWith(group + "-") && chart.options.scales.x.type === "linear") {
        chart.zoomScale("x", { min, max }, "none");
      }
    }
  }

  function history(data) {
    const labels = data.days.map((d) => d.slice(5));
    const datasets = Object.entries(data.rules).map(([rule, counts], i) => ({
      label: rule, data: counts, backgroundColor: RULE_COLOURS[i % RULE_COLOURS.length], stack: "alerts",
    }));
    return {
      type: "bar",
      data: { labels, datasets },
      options: {
        scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: {
          legend: { position: "right" },
          tooltip: { mode: "index", callbacks: { title: (items) => data.days[items[0].dataIndex] } },
          zoom: zoom(null),
        },
      },
    };
  }

  const KIND_STYLE = {
    placed: { pointStyle: "triangle", label: "placed" },
    cancelled: { pointStyle: "crossRot", label: "cancelled" },
    filled: { pointStyle: "circle", label: "filled" },
  };

  function markers(kind, rows) {
    const points = rows.map(([x, y, q, side, id, named, market]) => ({ x, y, q, side, id, named, market }));
    const colour = (ctx) => (ctx.raw && ctx.raw.side === "b" ? BUY : SELL);
    return {
      type: "scatter", label: KIND_STYLE[kind].label, kind, data: points,
      pointStyle: KIND_STYLE[kind].pointStyle,
      pointRotation: (ctx) => (kind === "placed" && ctx.raw && ctx.raw.side === "s" ? 180 : 0),
      pointRadius: (ctx) => (ctx.raw && ctx.raw.named ? 6 : 3.5),
      pointHoverRadius: 8,
      backgroundColor: (ctx) => (kind === "cancelled" ? "transparent" : colour(ctx)),
      borderColor: (ctx) => (kind === "cancelled" ? colour(ctx) : ctx.raw && ctx.raw.named ? "#1f2328" : colour(ctx)),
      borderWidth: (ctx) => (kind === "cancelled" ? 2 : ctx.raw && ctx.raw.named ? 1.5 : 0.5),
      order: 1,
    };
  }

  function describe(ctx) {
    const p = ctx.raw;
    if (ctx.dataset.kind === "trade") {
      return "trade " + clock(p.x, true) + " · " + number(p.q) + " @ " + number(p.y, 4);
    }
    const side = p.side === "b" ? "buy" : "sell";
    const price = p.market ? "market (drawn at the last trade " + number(p.y, 4) + ")" : number(p.y, 4);
    return ctx.dataset.kind + " " + p.id + " · " + side + " " + number(p.q) + " @ " + price +
      " · " + clock(p.x, true) + (p.named ? " · named by the rule" : "");
  }

  function price(data, group) {
    const trades = {
      type: "line", label: "market trades", kind: "trade",
      data: data.trades.map(([x, y, q]) => ({ x, y, q })),
      borderColor: MARKET, borderWidth: 1, pointRadius: 0, pointHitRadius: 3, order: 2,
    };
    const datasets = [trades, ...["placed", "cancelled", "filled"].map((k) => markers(k, data[k]))];
    return {
      type: "scatter",
      data: { datasets },
      options: {
        parsing: false,
        scales: { x: timeAxis(data), y: { grace: "8%", ticks: { callback: (v) => number(v, 2) }, grid: { color: "#eef1f4" } } },
        interaction: { mode: "point", intersect: true },  // every marker under the cursor: placed, filled and the trade often coincide
        plugins: {
          legend: { position: "right", labels: { usePointStyle: true } },
          tooltip: { callbacks: { label: describe } },
          zoom: zoom(group),
        },
      },
    };
  }

  function resting(data, group) {
    const line = (label, rows, colour) => ({
      type: "line", label, data: rows.map(([x, y]) => ({ x, y })), stepped: "after",
      borderColor: colour, backgroundColor: colour + "22", fill: true, borderWidth: 1.5, pointRadius: 0, pointHitRadius: 4,
    });
    return {
      type: "line",
      data: { datasets: [line("buy resting", data.buy, BUY), line("sell resting", data.sell, SELL)] },
      options: {
        parsing: false,
        scales: { x: timeAxis(data), y: { beginAtZero: true, grace: "8%", ticks: { callback: (v) => number(v) } } },
        interaction: { mode: "nearest", axis: "x", intersect: false },
        plugins: {
          legend: { position: "right" },
          tooltip: { callbacks: { label: (ctx) => ctx.dataset.label + " " + number(ctx.raw.y) + " · " + clock(ctx.raw.x, true) } },
          zoom: zoom(group),
        },
      },
    };
  }

  function messages(data) {
    const colours = { placed: BUY, cancelled: "#cf222e", filled: "#1a7f37" };
    return {
      type: "bar",
      data: {
        labels: data.buckets.map((b) => clock(b)),
        datasets: ["placed", "cancelled", "filled"].map((k) => ({ label: k, data: data[k], backgroundColor: colours[k], stack: "m" })),
      },
      options: {
        scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: "right" }, tooltip: { mode: "index" }, zoom: zoom(null) },
      },
    };
  }

  const BUILDERS = { history, price, resting, messages };

  function draw(item) {
    const box = document.querySelector('[data-chart="' + item.id + '"]');
    if (!box) throw new Error("no container for chart " + item.id);
    try {
      const group = item.id.includes("-") ? item.id.split("-")[0] : null;
      const config = BUILDERS[item.kind](item.data, group);
      config.plugins = [rendered];
      charts[item.id] = new Chart(box.querySelector("canvas"), config);
    } catch (error) {
      box.dataset.error = String(error && error.message ? error.message : error);
      console.error("chart " + item.id + " not drawn:", error);
    }
  }

  function start() {
    spec.charts.forEach(draw);
    document.querySelectorAll("[data-reset]").forEach((button) => {
      button.addEventListener("click", () => {
        const id = button.dataset.reset, group = id.includes("-") ? id.split("-")[0] : null;
        for (const [other, chart] of Object.entries(charts)) {
          if (other === id || (group && other.startsWith(group + "-"))) chart.resetZoom("none");
        }
      });
    });
    document.documentElement.dataset.chartsDrawn = String(Object.keys(charts).length);
  }

  /* Draw once the inlined font is in, so the canvases measure text in Inter. */
  (document.fonts && document.fonts.ready ? document.fonts.ready : Promise.resolve()).then(start, start);
})();
