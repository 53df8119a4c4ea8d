// Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Teams'
// Slack-compatible connectors): POST `{"text": …}` to the configured URL. The
// URL is the credential: it stays inside post(), which never shows it.
import { notificationText, type Notifier } from './port.js';
import { post, receiverUrl, timeoutFor, type ChannelOptions } from './post.js';

export interface SlackOptions extends ChannelOptions {
  /** The incoming-webhook URL (a secret: from the secrets store, like the other credentials). */
  url: string;
}

export function createSlackNotifier(options: SlackOptions): Notifier {
  const url = receiverUrl('slack', options.url);
  return {
    channel: 'slack',
    notify: (notification) => post({
      channel: 'slack', url, timeoutMs: timeoutFor(options), logger: options.logger, fetch: options.fetch,
      headers: { 'content-type': 'application/json', 'user-agent': 'kubeflow-metadata-deployer' },
      body: JSON.stringify({ text: notificationText(notification) }),
    }),
  };
}
