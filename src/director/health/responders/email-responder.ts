import { createTransport, type Transporter } from 'nodemailer';
import type { Alert } from '../../../common/contracts/api.js';
import type { Responder } from './responder.js';
import type { ResponderOptions } from '../config.js';

const SEVERITY_NAME: Record<number, string> = { 1: 'ALERT', 2: 'CRITICAL', 3: 'ERROR', 4: 'WARNING' };

/** Mails each alert over SMTP (nodemailer: the de-facto Node SMTP client, already a dependency). */
export class EmailResponder implements Responder {
  readonly name = 'email';
  readonly minSeverity: number;
  private readonly transport: Transporter;

  constructor(
    private readonly options: ResponderOptions<
      'email',
      /** Accept the SMTP server's self-signed certificate (tests, private relays). */
      { allowUntrustedTls?: boolean }
    >,
  ) {
    this.minSeverity = options.minSeverity ?? 4;
    this.transport = createTransport({
      host: options.host,
      port: options.port,
      secure: options.secure,
      auth: options.user ? { user: options.user, pass: options.password ?? '' } : undefined,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      tls: options.allowUntrustedTls ? { rejectUnauthorized: false } : undefined,
    });
  }

  async deliver(alert: Alert): Promise<void> {
    const where = [alert.deployment, alert.instance].filter(Boolean).join(' ');
    await this.transport.sendMail({
      from: this.options.from,
      to: this.options.to,
      subject: `[bosun ${SEVERITY_NAME[alert.severity] ?? alert.severity}] ${alert.title}${where ? ` (${where})` : ''}`,
      text: [
        alert.summary,
        '',
        `severity: ${alert.severity} (${SEVERITY_NAME[alert.severity] ?? '?'})`,
        `category: ${alert.category}`,
        `deployment: ${alert.deployment ?? '-'}`,
        `instance: ${alert.instance ?? '-'}`,
        `time: ${alert.createdAt}`,
        `id: ${alert.id}`,
      ].join('\n'),
    });
  }
}
