import * as k8s from '@kubernetes/client-node';
import { startKubeDouble } from './test/support/kube-double.js';
const d = await startKubeDouble();
const kc = new k8s.KubeConfig(); kc.loadFromString(d.kubeconfig());
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
try { await core.readNamespacedSecret({ name: 'x', namespace: 'kubeflow' }); } catch (e: any) { console.log('404:', e.constructor.name, e.code, typeof e.body, String(e.body).slice(0, 200), e.headers); }
const dep = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'm', namespace: 'kubeflow' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 8080 }] }] } } } };
const c = await apps.createNamespacedDeployment({ namespace: 'kubeflow', body: dep as any });
console.log('created', JSON.stringify(c).slice(0, 300));
const r = await apps.readNamespacedDeploymentWithHttpInfo({ name: 'm', namespace: 'kubeflow' });
console.log('raw skipped');
try {
const p = await apps.patchNamespacedDeployment({ name: 'm', namespace: 'kubeflow', body: { spec: { replicas: 2 } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch));
console.log('patched', p.spec?.replicas);
} catch (e) { console.log('patch err', e); }
console.log(d.requests.map((r) => `${r.method} ${r.path} ${r.contentType}`));
await d.refuse();
try { await core.readNamespacedSecret({ name: 'x', namespace: 'kubeflow' }); } catch (e: any) { console.log('refused:', e.constructor.name, e.code, e.type, e.message); }
await d.stop();
