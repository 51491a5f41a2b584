using System.Security.Cryptography;
using System.Text.Json;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.DataProtection;
using Transformation.GrpcHosting;

namespace Transformation.Baselines.Api.Infrastructure;

/// <summary>
/// Seals a survey's answers and drafts before they reach the database, with ASP.NET Core Data Protection (authenticated
/// encryption, a fresh random IV each time) under a purpose per assessment; the key ring lives outside the database
/// (<see cref="SurveyOptions.KeyRingPath"/>). Each sealed payload is padded to a multiple of <see cref="Block"/> bytes, so that
/// its length tells no more than which block the comment's length falls in.
/// </summary>
public sealed class SurveySeal(IDataProtectionProvider provider)
{
    private const int Block = 1024;

    public byte[] Seal(string assessmentId, short[] answers, string comment) =>
        Protector(assessmentId, "answers").Protect(Padded(JsonSerializer.SerializeToUtf8Bytes(new Sealed(answers, comment))));

    /// <summary>The answers and comment; FAILED_PRECONDITION when this key ring did not seal them.</summary>
    public (short[] Answers, string Comment) Unseal(string assessmentId, byte[] sealedAnswers)
    {
        var sealedValue = JsonSerializer.Deserialize<Sealed>(Unprotect(assessmentId, "answers", sealedAnswers))!;
        return (sealedValue.Answers, sealedValue.Comment);
    }

    public byte[] SealDraft(string assessmentId, byte[] draft) => Protector(assessmentId, "draft").Protect(Padded(draft));

    public byte[] UnsealDraft(string assessmentId, byte[] sealedDraft) => Unprotect(assessmentId, "draft", sealedDraft);

    private byte[] Unprotect(string assessmentId, string what, byte[] sealedValue)
    {
        try
        {
            return Unpadded(Protector(assessmentId, what).Unprotect(sealedValue));
        }
        catch (CryptographicException)
        {
            throw RpcErrors.WithDetails(StatusCode.FailedPrecondition,
                $"The {what} of {assessmentId} cannot be unsealed: the service's survey key ring (Baselines:Surveys:KeyRingPath) is not the one they were sealed with. Nothing changed.",
                new PreconditionFailure
                {
                    Violations = { new PreconditionFailure.Types.Violation { Type = "KEY_RING", Subject = "assessment_id", Description = "Sealed with a key this service does not hold." } },
                });
        }
    }

    private IDataProtector Protector(string assessmentId, string what) =>
        provider.CreateProtector($"Transformation.Baselines.SurveyAnswers.v1:{assessmentId}", what);

    /// <summary>The payload's length (4 bytes), the payload, zeros up to the next multiple of <see cref="Block"/>.</summary>
    private static byte[] Padded(byte[] payload)
    {
        var padded = new byte[(payload.Length + 4 + Block - 1) / Block * Block];
        BitConverter.TryWriteBytes(padded, payload.Length);
        payload.CopyTo(padded, 4);
        return padded;
    }

    private static byte[] Unpadded(byte[] padded)
    {
        var length = BitConverter.ToInt32(padded, 0);
        return length >= 0 && length <= padded.Length - 4 ? padded[4..(4 + length)] : throw new CryptographicException("A sealed payload's length is invalid.");
    }

    private sealed record Sealed(short[] Answers, string Comment);
}
