using System.Threading.Channels;
using CsvHelper;

namespace Transformation.Csv;

/// <summary>What an upload did: the service's response, or the problems (then the call was cancelled and nothing was stored).</summary>
public sealed record CsvUploadResult<TResponse>(TResponse? Response, IReadOnlyList<CsvProblem> Problems)
    where TResponse : class
{
    public bool Succeeded => Problems.Count == 0 && Response is not null;
}

/// <summary>
/// Sends a CSV file over ONE client-streaming call, all or nothing. The file is read record by record (never whole) while
/// the messages already packed are being sent: a bounded channel of a few messages between the reader and the writer, so
/// parsing overlaps the network and the service, and memory stays bounded whatever the file's size. At the first bad row
/// nothing more is sent; the rest of the file is still checked (up to the problems' limit), then the call is cancelled
/// (the service commits nothing). A refusal by the service comes back as problems named by line and column.
/// </summary>
public static partial class CsvUpload
{
    /// <summary>Messages packed ahead of the writer.</summary>
    private const int MessagesAhead = 4;

    /// <summary>Reader options shared by every upload: trimmed fields, line numbers, malformed quoting is an error.</summary>
    public static CsvReaderOptions ReaderOptions() => new()
    {
        Separator = ',',
        TrackLineNumbers = true,
        SkipEmptyLines = true,
        TrimWhitespace = true,
        MalformedData = CsvMalformedDataHandling.Throw,
        BufferSize = 256 * 1024,
    };

    private sealed record UploadAnswer<TResponse>(TResponse? Response, Google.Rpc.BadRequest? Violations, string Refusal);

    private static async Task<CsvUploadResult<TResponse>> SendOverAsync<TRow, TRequest, TResponse>(Stream file, CsvFormat<TRow, TRequest> format,
        Func<CancellationToken, Task<UploadCall<TRequest, TResponse>>> open, Action<long>? progress, CancellationToken cancellationToken)
        where TRow : class
        where TRequest : class
        where TResponse : class
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(open);
        await using var csv = CsvReader.Create(file, ReaderOptions(), leaveOpen: true);
        var problems = new CsvProblems();
        IReadOnlyList<string> headers;
        try
        {
            await csv.ReadHeaderAsync(cancellationToken);
            headers = [.. csv.Headers.Select(h => h.Trim())];
        }
        catch (CsvFormatException e)
        {
            return Failed<TResponse>(new CsvProblem(Math.Max(e.LineNumber, 1), "", $"The header is not valid CSV: {FirstLine(e.Message)}"));
        }

        format.CheckHeader(headers, problems);
        if (problems.Count > 0)
        {
            return new CsvUploadResult<TResponse>(null, problems.ToList());
        }

        await using var call = await open(cancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var messages = Channel.CreateBounded<(TRequest Message, long Offset)>(
            new BoundedChannelOptions(MessagesAhead) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        var record = new CsvRecord(csv, headers);

        // Not Task.Run: on a synchronisation context (the portal's circuit) both loops stay on it and interleave; without
        // one (the CLI) their continuations run on the thread pool, in parallel.
        var reading = ReadAsync(csv, record, format, problems, messages.Writer, stop.Token);
        var ended = false;
        try
        {
            if (format.Opening is { } opening)
            {
                ended = !await call.TryWriteAsync(opening);
            }

            if (!ended)
            {
                await foreach (var (message, offset) in messages.Reader.ReadAllAsync(stop.Token))
                {
                    if (!await call.TryWriteAsync(message))
                    {
                        ended = true;
                        break;
                    }

                    progress?.Invoke(offset);
                }
            }

            if (ended)
            {
                // The service ended the call while the file was still streaming (it refused a row, say): stop reading.
                await stop.CancelAsync();
            }
        }
        catch (OperationCanceledException)
        {
            // Cancelled by the caller: let the reader end before the file's reader is disposed.
            await stop.CancelAsync();
            await reading;
            throw;
        }

        var rowsRead = await reading;
        cancellationToken.ThrowIfCancellationRequested();
        if (problems.Count > 0)
        {
            // Disposing the unfinished call cancels it: the service rolls back what it staged.
            return new CsvUploadResult<TResponse>(null, problems.ToList());
        }

        if (!ended && rowsRead == 0 && format.EmptyFileProblem is { } empty)
        {
            return Failed<TResponse>(new CsvProblem(1, "", empty));
        }

        var answer = await call.AnswerAsync();
        return answer.Response is { } response
            ? new CsvUploadResult<TResponse>(response, [])
            : new CsvUploadResult<TResponse>(null, format.ServiceProblems(answer.Violations, answer.Refusal));
    }

    /// <summary>Reads every record; packs good rows into messages until the first problem. Returns the good rows read.</summary>
    private static async Task<long> ReadAsync<TRow, TRequest>(CsvReader csv, CsvRecord record, CsvFormat<TRow, TRequest> format, CsvProblems problems,
        ChannelWriter<(TRequest Message, long Offset)> messages, CancellationToken cancellationToken)
        where TRow : class
        where TRequest : class
    {
        var batch = new List<TRow>(format.BatchSize);
        long rows = 0;
        try
        {
            while (!problems.IsFull && await csv.ReadAsync(cancellationToken))
            {
                var row = format.ReadRow(record, problems);
                if (row is null || problems.Count > 0)
                {
                    // Nothing more is sent: the writer ends and the call is cancelled. The rest is still checked.
                    messages.TryComplete();
                    continue;
                }

                rows++;
                batch.Add(row);
                if (batch.Count >= format.BatchSize)
                {
                    await messages.WriteAsync((format.Pack(batch), csv.ByteOffset), cancellationToken);
                    batch.Clear();
                }
            }

            if (problems.Count == 0 && batch.Count > 0)
            {
                await messages.WriteAsync((format.Pack(batch), csv.ByteOffset), cancellationToken);
            }
        }
        catch (CsvFormatException e)
        {
            var column = e.FieldIndex >= 0 && e.FieldIndex < record.Headers.Count ? record.Headers[(int)e.FieldIndex] : "";
            problems.Add(e.LineNumber, column, $"Not valid CSV: {FirstLine(e.Message)}");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The writer failed (the service ended the call) or the upload was cancelled: the caller says why.
        }
        catch (ChannelClosedException)
        {
            // Unreachable: the channel is completed only here.
        }
        finally
        {
            messages.TryComplete();
        }

        return rows;
    }

    private static CsvUploadResult<TResponse> Failed<TResponse>(CsvProblem problem)
        where TResponse : class => new(null, [problem]);

    private static string FirstLine(string message) => message.Split('\n')[0];
}
