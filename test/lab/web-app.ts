import { LAB_WEB_IMAGE } from '../../src/lab/images.js';

/**
 * The lab's web app: a Deployment of the bundle's web image (busybox httpd answering
 * "furrow lab web: <pod name>"), one pod on each of `replicas` nodes, and a NodePort Service in front of it.
 * The image is on every node already (the bundle's preload imported it: no registry is reachable).
 */
export function webAppManifest(replicas: number): object[] {
  // Never two pods on one node (required anti-affinity): each node holds one.
  const spread = {
    podAntiAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: [
        { labelSelector: { matchLabels: { app: 'web' } }, topologyKey: 'kubernetes.io/hostname' },
      ],
    },
  };
  return [
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            affinity: spread,
            // busybox's httpd, PID 1, ignores SIGTERM: each eviction would wait the default 30 s.
            terminationGracePeriodSeconds: 2,
            containers: [
              { name: 'web', image: LAB_WEB_IMAGE, imagePullPolicy: 'Never', ports: [{ containerPort: 80 }] },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] },
    },
  ];
}

/** The web app's pods as `kubectl get pods -l app=web -o json` lists them. */
export interface WebPods {
  items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }>;
}
