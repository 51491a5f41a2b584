using MimeKit;
using Transformation.ServerProcesses;
using Xunit;

namespace Transformation.TestSupport;

/// <summary>
/// One throwaway SMTP server (a class or assembly fixture): Debian's aiosmtpd as a process on a free loopback port, keeping
/// each message it receives as a file, read back here with MimeKit.
/// </summary>
public sealed class SmtpFixture : IAsyncLifetime
{
    private SmtpServer? _server;

    public SmtpServer Server => _server ?? throw new InvalidOperationException("The SMTP fixture has not started.");

    /// <summary>The settings a service's mail options take to send here (under <paramref name="section"/>).</summary>
    public IEnumerable<KeyValuePair<string, string?>> Settings(string section) =>
    [
        new($"{section}:Host", "127.0.0.1"),
        new($"{section}:Port", Server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    public async ValueTask InitializeAsync() => _server = await SmtpServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Every message received so far, oldest first.</summary>
    public IReadOnlyList<MimeMessage> Messages()
    {
        var files = new DirectoryInfo(Server.ReceivedDirectory);
        return files.Exists
            ? [.. files.GetFiles().OrderBy(f => f.LastWriteTimeUtc).ThenBy(f => f.Name, StringComparer.Ordinal).Select(f => MimeMessage.Load(f.FullName))]
            : [];
    }

    /// <summary>The messages received to <paramref name="address"/>.</summary>
    public IReadOnlyList<MimeMessage> MessagesTo(string address) =>
        [.. Messages().Where(m => m.To.Mailboxes.Any(to => string.Equals(to.Address, address, StringComparison.OrdinalIgnoreCase)))];

    /// <summary>Waits (at most <paramref name="timeout"/>, 30 s by default) until <paramref name="until"/> holds for the received messages; returns them.</summary>
    public async Task<IReadOnlyList<MimeMessage>> WaitForAsync(Func<IReadOnlyList<MimeMessage>, bool> until, CancellationToken ct, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var messages = Messages();
            if (until(messages))
            {
                return messages;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The mail expected did not arrive; received: {string.Join("; ", messages.Select(m => $"{m.To} '{m.Subject}'"))}");
            }

            await Task.Delay(100, ct);
        }
    }
}
