using System.ComponentModel.DataAnnotations;

namespace Transformation.Grains;

/// <summary>The "Grains" section: where the service's silo listens.</summary>
public sealed class GrainsOptions
{
    public const string Section = "Grains";

    /// <summary>Silo-to-silo traffic (Orleans' default 11111).</summary>
    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    /// <summary>Where Orleans clients outside the service connect (Orleans' default 30000).</summary>
    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;
}
