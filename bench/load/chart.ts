/**
 * The results chart, rendered to SVG by Vega (vega 6.4.0 + vega-lite 6.4.1, pinned in
 * bench/package.json). Why Vega: it renders SVG on the server with `view.toSVG()` and no browser,
 * canvas or native build (pure JS, installs on Node 20 from the npm registry alone); the chart is
 * described declaratively (Vega-Lite), so nothing is hand-drawn. Newer vega-lite (6.5) requires
 * Node 22.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';

export interface Bar {
  /** The comparison (x axis group). */
  group: string;
  /** The variant (colour). */
  variant: string;
  value: number;
}

export async function renderChart(title: string, yTitle: string, bars: Bar[], ceiling: number): Promise<string> {
  const spec: vl.TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle: `dashed line: Express ceiling (GET /healthz) measured in the same run, ${Math.round(ceiling).toLocaleString('en-US')} req/s`,
    },
    width: { step: 34 },
    height: 300,
    layer: [
      {
        data: { values: bars },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'group', type: 'nominal', title: null, axis: { labelAngle: -30, labelLimit: 220 }, sort: null },
          xOffset: { field: 'variant', type: 'nominal', sort: null },
          y: { field: 'value', type: 'quantitative', title: yTitle },
          color: { field: 'variant', type: 'nominal', title: null, sort: null, legend: { orient: 'top' } },
        },
      },
      {
        data: { values: [{ ceiling }] },
        mark: { type: 'rule', strokeDash: [6, 4], color: '#444' },
        encoding: { y: { field: 'ceiling', type: 'quantitative' } },
      },
    ],
  };
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
