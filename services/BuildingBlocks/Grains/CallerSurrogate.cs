using System.Collections.Immutable;
using Transformation.ServiceDefaults.Identity;

namespace Transformation.Grains;

/// <summary>How a <see cref="Caller"/> (who called the gRPC method) crosses grain calls.</summary>
[GenerateSerializer]
[Immutable]
public readonly record struct CallerSurrogate([property: Id(0)] string Subject, [property: Id(1)] ImmutableArray<string> Roles);

[RegisterConverter]
public sealed class CallerConverter : IConverter<Caller, CallerSurrogate>
{
    public Caller ConvertFromSurrogate(in CallerSurrogate surrogate) => new(surrogate.Subject, surrogate.Roles.ToHashSet(StringComparer.Ordinal));

    public CallerSurrogate ConvertToSurrogate(in Caller value) => new(value.Subject, [.. value.Roles.Order(StringComparer.Ordinal)]);
}
