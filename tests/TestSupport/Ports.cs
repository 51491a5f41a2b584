using System.Net;
using System.Net.Sockets;

namespace Transformation.TestSupport;

public static class Ports
{
    // Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999): a port handed out here is never taken
    // meanwhile by one of the many outgoing connections a test process makes (to PostgreSQL, RabbitMQ, silos), as a port
    // the kernel picked from that range can be. Each process draws from its own slice, so parallel test assemblies rarely meet.
    private const int First = 20_000;
    private const int SliceSize = 1_000;
    private const int Slices = 10; // 20000-29999: below 30000-30001, the local run's Orleans gateway ports

    private static readonly Lock Gate = new();
    private static readonly HashSet<int> HandedOut = [];
    private static readonly int SliceStart = First + (Environment.ProcessId % Slices) * SliceSize;

    /// <summary>A loopback port free right now and not handed out before by this process, for a server the test starts.</summary>
    public static int Free()
    {
        lock (Gate)
        {
            var offset = Random.Shared.Next(SliceSize);
            for (var tried = 0; tried < SliceSize; tried++)
            {
                var port = SliceStart + ((offset + tried) % SliceSize);
                if (!HandedOut.Contains(port) && CanBind(port))
                {
                    HandedOut.Add(port);
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"No free loopback port left in {SliceStart}-{SliceStart + SliceSize - 1}.");
    }

    private static bool CanBind(int port)
    {
        using var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            listener.Stop();
        }
    }
}
