using Transformation.ServiceDefaults.Identity;

namespace Transformation.Cli.Run;

/// <summary>
/// The local token issuer: an RSA key made on the first run and kept (owner-only) in the data folder, so the
/// services trust it and `transform token` signs with it. Never used outside a local run.
/// </summary>
public static class DevelopmentIssuer
{
    public const string Issuer = "https://identity.transformation.local";
    public const string Audience = "transformation";

    /// <summary>Where the data folder keeps the issuer's private key (PEM, owner-only).</summary>
    public static string KeyFile(string dataDirectory) => Path.Combine(dataDirectory, "identity", "development-issuer.pem");

    public static TokenIssuer Load(string? dataDirectory)
    {
        if (dataDirectory is null)
        {
            return TokenIssuer.CreateEphemeral(Issuer, Audience);
        }

        var file = KeyFile(dataDirectory);
        if (!File.Exists(file))
        {
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            using var created = TokenIssuer.CreateEphemeral(Issuer, Audience);
            File.WriteAllText(file, created.PrivateKeyPem);
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return TokenIssuer.FromPrivateKeyPem(File.ReadAllText(file), Issuer, Audience);
    }
}
