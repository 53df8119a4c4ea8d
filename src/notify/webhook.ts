// A generic JSON webhook: POST the notification (plus its one-line `text`) as
// JSON, signed the way the deployer's own `generic` intake route expects:
// `X-Signature: sha256=<hex HMAC-SHA256 of the raw body>` with a shared secret.
// The receiver verifies the bytes it got, so the body is serialised once and
// those exact bytes are both signed and sent. `X-Kfm-Delivery` repeats the
// notification id for receivers that deduplicate on a header.
import { createHmac } from 'node:crypto';
import { notificationText, type Notification, type Notifier } from './port.js';
import { post, receiverUrl, timeoutFor, type ChannelOptions } from './post.js';

export interface WebhookOptions extends ChannelOptions {
  url: string;
  /** The HMAC key (a secret). */
  secret: string;
}

/** `sha256=<hex>`: the X-Signature value for `body`. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export function createWebhookNotifier(options: WebhookOptions): Notifier {
  const url = receiverUrl('webhook', options.url);
  if (options.secret.length === 0) throw new Error('webhook notifier: the signing secret is empty');
  return {
    channel: 'webhook',
    notify: (notification: Notification) => {
      const body = JSON.stringify({ ...notification, text: notificationText(notification) });
      return post({
        channel: 'webhook', url, body, timeoutMs: timeoutFor(options), logger: options.logger, fetch: options.fetch,
        headers: {
          'content-type': 'application/json', 'user-agent': 'kubeflow-metadata-deployer',
          'x-signature': signature(options.secret, body), 'x-kfm-delivery': notification.id,
        },
      });
    },
  };
}
