import type { HealthReport } from '@bplab/kit';
import type { Express } from 'express';

/** /healthz (the Kubernetes convention, next to the kit's /health) and /status: each LagAutoscaler's state. */
export function operatorRoutes(health: () => HealthReport, status: () => unknown) {
  return (app: Express) => {
    app.get('/healthz', (_req, res) => {
      const report = health();
      res.status(report.healthy ? 200 : 503).json({ status: report.healthy ? 'healthy' : 'unhealthy', ...report });
    });
    app.get('/status', (_req, res) => {
      res.json(status());
    });
  };
}
