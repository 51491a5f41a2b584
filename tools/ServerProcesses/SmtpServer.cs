using System.Net.Sockets;

namespace Transformation.ServerProcesses;

/// <summary>
/// A throwaway SMTP server process (Debian's aiosmtpd) on a free loopback port, keeping every message it receives as a file
/// of a Maildir (aiosmtpd's own Mailbox handler): the mail the services send in tests and in a local run, readable there.
/// </summary>
public sealed class SmtpServer : IAsyncDisposable
{
    public const string DebianPackage = "python3-aiosmtpd";

    private readonly RunDirectory _run;
    private readonly SupervisedProcess _process;

    private SmtpServer(RunDirectory run, SupervisedProcess process, int port, string mailDirectory)
    {
        _run = run;
        _process = process;
        Port = port;
        MailDirectory = mailDirectory;
    }

    public int Port { get; }

    /// <summary>The Maildir: each received message is one file under its <c>new</c> folder.</summary>
    public string MailDirectory { get; }

    /// <summary>The folder holding one file per received message (RFC 5322, with aiosmtpd's X-MailFrom and X-RcptTo headers).</summary>
    public string ReceivedDirectory => Path.Combine(MailDirectory, "new");

    /// <summary>
    /// Starts the server; its Maildir is <paramref name="mailDirectory"/> when given (kept after it stops), else a throwaway folder.
    /// </summary>
    public static async Task<SmtpServer> StartAsync(string? mailDirectory = null, int port = 0, CancellationToken cancellationToken = default)
    {
        // Debian's interpreter, where the package installs the module (another python3 may come first on the PATH).
        var python = Prerequisites.RequireFile("/usr/bin/python3", "Debian's python3", "python3");
        Prerequisites.RequireFile("/usr/lib/python3/dist-packages/aiosmtpd/__init__.py", "The aiosmtpd module", DebianPackage);

        var run = RunDirectory.Create();
        try
        {
            port = port > 0 ? port : FreePorts.Take(1)[0];
            var directory = run.Subdirectory("smtp");
            mailDirectory ??= Path.Combine(directory, "mail");
            foreach (var folder in new[] { "tmp", "new", "cur" })
            {
                // A Maildir's three folders: Python's Maildir creates them only along with the top folder.
                Directory.CreateDirectory(Path.Combine(mailDirectory, folder));
            }
            var process = SupervisedProcess.Start(
                [python, "-m", "aiosmtpd", "-n", "-l", $"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Mailbox", mailDirectory],
                "TERM", Path.Combine(directory, "smtp.log"), run.Path);
            var server = new SmtpServer(run, process, port, mailDirectory);
            await server.WaitUntilReadyAsync(cancellationToken);
            return server;
        }
        catch
        {
            run.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process.Terminate();
        await _process.WaitForGroupExitAsync(TimeSpan.FromSeconds(10));
        _run.Dispose();
    }

    private Task WaitUntilReadyAsync(CancellationToken cancellationToken) => _process.WaitUntilAnswersAsync("aiosmtpd", Port, GreetsAsync, cancellationToken);

    /// <summary>True when the server sends its 220 greeting.</summary>
    private async Task<bool> GreetsAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, cancellationToken);
            var buffer = new byte[3];
            var read = await client.GetStream().ReadAtLeastAsync(buffer, 3, throwOnEndOfStream: false, cancellationToken);
            return read == 3 && buffer.AsSpan().SequenceEqual("220"u8);
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
