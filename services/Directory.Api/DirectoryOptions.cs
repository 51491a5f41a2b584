using System.ComponentModel.DataAnnotations;

namespace Transformation.Directory.Api;

/// <summary>The "Directory" section.</summary>
public sealed class DirectoryOptions
{
    public const string Section = "Directory";

    /// <summary>The service's PostgreSQL database; empty: EventBus:Database (the same database holds the outbox).</summary>
    public string Database { get; set; } = "";

    /// <summary>The share of active employees a full sync may deactivate, or change the roles or manager of, without force (0.1 = 10 %).</summary>
    [Range(0.0, 1.0)]
    public double MaxDeactivatedShare { get; set; } = 0.10;

    /// <summary>The largest import (its rows' protobuf bytes, about the size of the CSV file); larger is RESOURCE_EXHAUSTED.</summary>
    [Range(1, int.MaxValue)]
    public int MaxImportBytes { get; set; } = 16 * 1024 * 1024;
}
