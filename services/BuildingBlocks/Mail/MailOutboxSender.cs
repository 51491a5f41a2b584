using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MimeKit;
using Npgsql;

namespace Transformation.Mail;

/// <summary>
/// Delivers the <see cref="MailOutbox"/> rows through the SMTP server of <see cref="MailOptions"/>, oldest first. Each message is
/// sent under its row's lock and marked sent in that row's transaction, so a restart neither loses one (an unsent row stays) nor
/// sends one twice, except one whose SMTP acceptance and mark were cut apart by a crash: it goes again with the same Message-Id,
/// by which mail clients drop the repeat. Several instances share the rows (SKIP LOCKED). Without a host nothing is sent.
/// <c>open</c> connects to the database that holds the outbox; <c>section</c> names the options' section in the log.
/// </summary>
public sealed partial class MailOutboxSender(Func<CancellationToken, ValueTask<NpgsqlConnection>> open, MailOptions options, string section,
    ILogger<MailOutboxSender> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.Host.Length == 0)
        {
            LogNoHost(section);
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await SendBatchAsync(stoppingToken) == 0)
                {
                    await Task.Delay(options.PollInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception)
            {
                LogSendFailed(exception, options.Host, options.Port);
                await Task.Delay(options.RetryDelay, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Sends up to a batch of queued messages over one SMTP connection; the number sent.</summary>
    public async Task<int> SendBatchAsync(CancellationToken ct)
    {
        using var smtp = new SmtpClient();
        var sent = 0;
        try
        {
            await using var connection = await open(ct);
            while (sent < options.BatchSize)
            {
                await using var transaction = await connection.BeginTransactionAsync(ct);
                MimeMessage? message = null;
                Guid mailId = default;
                await using (var command = connection.Command(transaction, """
                    SELECT mail_id, recipient, subject, body FROM mail_outbox WHERE sent_at IS NULL ORDER BY sequence LIMIT 1 FOR UPDATE SKIP LOCKED
                    """))
                await using (var reader = await command.ExecuteReaderAsync(ct))
                {
                    if (await reader.ReadAsync(ct))
                    {
                        mailId = reader.GetGuid(0);
                        message = Message(mailId, reader.GetString(1), reader.GetString(2), reader.GetString(3));
                    }
                }

                if (message is null)
                {
                    break;
                }

                if (!smtp.IsConnected)
                {
                    await smtp.ConnectAsync(options.Host, options.Port, SecureSocketOptions.None, ct);
                }

                await smtp.SendAsync(message, ct);
                await connection.ExecuteAsync(transaction, "UPDATE mail_outbox SET sent_at = now() WHERE mail_id = $1", ct, mailId);
                await transaction.CommitAsync(ct);
                sent++;
            }
        }
        finally
        {
            if (smtp.IsConnected)
            {
                await smtp.DisconnectAsync(quit: true, CancellationToken.None);
            }
        }

        return sent;
    }

    private MimeMessage Message(Guid mailId, string recipient, string subject, string body)
    {
        var message = new MimeMessage
        {
            // The row's id: a repeat after a crash carries the same one.
            MessageId = $"{mailId:n}@{MailboxAddress.Parse(options.From).Domain}",
            Subject = subject,
            Body = new TextPart("plain") { Text = body },
        };
        message.From.Add(MailboxAddress.Parse(options.From));
        message.To.Add(MailboxAddress.Parse(recipient));
        return message;
    }

    [LoggerMessage(LogLevel.Information, "No SMTP host is configured ({Section}:Host): mail is queued, not sent.")]
    private partial void LogNoHost(string section);

    [LoggerMessage(LogLevel.Warning, "Sending mail through {Host}:{Port} failed; the unsent messages stay queued and are tried again.")]
    private partial void LogSendFailed(Exception exception, string host, int port);
}
