using System.Net;
using System.Net.Sockets;

namespace Transformation.TestSupport;

public static class Ports
{
    /// <summary>A loopback port free right now (the OS picks it), for a server the test starts.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
