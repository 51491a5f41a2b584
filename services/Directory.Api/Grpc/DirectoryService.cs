using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using Transformation.Csv;
using Transformation.Directory.Api.Infrastructure;
using Transformation.Directory.Api.Model;
using Transformation.Directory.V1;
using Transformation.EventBus;
using Transformation.GrpcHosting;
using Transformation.ServiceDefaults.Identity;
using Grpc.Core;

namespace Transformation.Directory.Api.Grpc;

/// <summary>transformation.directory.v1.DirectoryService: validate, call the model, map.</summary>
public sealed class DirectoryService(DirectoryStore store, DirectoryQueries queries, IOptions<DirectoryOptions> options) : V1.DirectoryService.DirectoryServiceBase
{
    /// <summary>At most this many field violations travel in one error (the trailers must stay small).</summary>
    private const int MaxViolations = 50;
    private const int RepublishBatch = 1_000;
    private const int MinSearchLength = 2;
    private const int MaxSearchLength = 100;
    private const int DefaultSearchPage = 20;
    private const int MaxSearchPage = 50;

    private static readonly string[] Writers = [Roles.Hr, Roles.Operator, Roles.Service];

    public override async Task<GetOrgTreeResponse> GetOrgTree(GetOrgTreeRequest request, ServerCallContext context)
    {
        context.Caller();
        var units = await queries.UnitsAsync(AsOf(request.AsOf), context.CancellationToken);
        var response = new GetOrgTreeResponse();
        response.OrgUnits.AddRange(DirectoryState.ParentsFirst(units.Where(u => request.IncludeClosed || !u.Closed)).Select(u => u.ToSnapshot()));
        return response;
    }

    public override async Task<GetEmployeeResponse> GetEmployee(GetEmployeeRequest request, ServerCallContext context)
    {
        context.Caller();
        RequireId(request.EmployeeId, "employee_id");
        var employee = await queries.EmployeeAsync(request.EmployeeId, AsOf(request.AsOf), context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Employee '{request.EmployeeId}' does not exist{At(request.AsOf)}."));
        return new GetEmployeeResponse { Employee = employee.ToSnapshot() };
    }

    public override async Task<ListUnitMembersResponse> ListUnitMembers(ListUnitMembersRequest request, ServerCallContext context)
    {
        context.Caller();
        RequireId(request.OrgUnitId, "org_unit_id");
        var asOf = AsOf(request.AsOf);
        var units = await queries.UnitsAsync(asOf, context.CancellationToken);
        if (!units.Any(u => string.Equals(u.Id, request.OrgUnitId, StringComparison.Ordinal)))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"Org unit '{request.OrgUnitId}' does not exist{At(request.AsOf)}."));
        }

        IReadOnlyCollection<string> unitIds = request.IncludeDescendants
            ? DirectoryState.UnitAndDescendants(units, request.OrgUnitId)
            : [request.OrgUnitId];
        var members = await queries.MembersAsync(unitIds, request.IncludeInactive, asOf, context.CancellationToken);
        var response = new ListUnitMembersResponse();
        response.Employees.AddRange(members.Select(e => e.ToSnapshot()));
        return response;
    }

    public override async Task<SearchEmployeesResponse> SearchEmployees(SearchEmployeesRequest request, ServerCallContext context)
    {
        context.Caller();
        var violations = new List<(string, string)>();
        var query = request.Query.Trim();
        if (query.Length is < MinSearchLength or > MaxSearchLength)
        {
            violations.Add(("query", $"Type {MinSearchLength} to {MaxSearchLength} characters of a name, a unit, an id or an email."));
        }

        (string, string)? after = null;
        if (request.PageToken.Length > 0)
        {
            after = SearchToken.Read(request.PageToken);
            if (after is null)
            {
                violations.Add(("page_token", "Not a page token this search returned: start again from the first page."));
            }
        }

        ThrowIfAny(violations);
        var limit = request.PageSize == 0 ? DefaultSearchPage : Math.Min(request.PageSize, MaxSearchPage);
        var role = request.Role == Role.Unspecified ? null : DirectoryNames.Of(request.Role);
        // One more than the page tells whether another page follows.
        var found = await queries.SearchAsync(query, role, after, limit + 1, context.CancellationToken);
        var response = new SearchEmployeesResponse();
        response.Employees.AddRange(found.Take(limit).Select(f => f.Employee.ToSnapshot()));
        if (found.Count > limit)
        {
            var (last, sortName) = found[limit - 1];
            response.NextPageToken = SearchToken.Write(sortName, last.Id);
        }

        return response;
    }

    public override async Task<GetManagerChainResponse> GetManagerChain(GetManagerChainRequest request, ServerCallContext context)
    {
        context.Caller();
        RequireId(request.EmployeeId, "employee_id");
        var asOf = AsOf(request.AsOf);
        var employee = await queries.EmployeeAsync(request.EmployeeId, asOf, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Employee '{request.EmployeeId}' does not exist{At(request.AsOf)}."));
        var response = new GetManagerChainResponse();
        var seen = new HashSet<string>(StringComparer.Ordinal) { employee.Id };
        while (employee.ManagerId.Length > 0 && seen.Add(employee.ManagerId))
        {
            var manager = await queries.EmployeeAsync(employee.ManagerId, asOf, context.CancellationToken);
            if (manager is null)
            {
                break;
            }

            response.Managers.Add(manager.ToSnapshot());
            employee = manager;
        }

        return response;
    }

    public override async Task<UpsertOrgUnitResponse> UpsertOrgUnit(UpsertOrgUnitRequest request, ServerCallContext context)
    {
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        CheckId(request.OrgUnitId, "org_unit_id", violations);
        if (string.IsNullOrWhiteSpace(request.Name))
        {
            violations.Add(("name", "name is required"));
        }

        if (request.Kind == OrgUnitKind.Unspecified || !System.Enum.IsDefined(request.Kind))
        {
            violations.Add(("kind", "kind is required"));
        }

        if (request.ParentId.Length > 0)
        {
            CheckId(request.ParentId, "parent_id", violations);
        }

        ThrowIfAny(violations);
        var desired = new OrgUnit(request.OrgUnitId, request.Name.Trim(), request.ParentId, request.Kind, request.Closed);
        return await store.WriteAsync(nameof(UpsertOrgUnit), request.IdempotencyKey, UpsertOrgUnitResponse.Parser, async write =>
        {
            var plan = DirectorySync.PlanUnit(await write.LoadAsync(context.CancellationToken), desired, write.Now);
            await ApplyAsync(write, plan, context.CancellationToken);
            return new UpsertOrgUnitResponse { OrgUnit = plan.Next.Units[desired.Id].ToSnapshot(), Changed = plan.Changes.Count > 0 };
        }, context.CancellationToken);
    }

    public override async Task<UpsertEmployeeResponse> UpsertEmployee(UpsertEmployeeRequest request, ServerCallContext context)
    {
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        CheckId(request.EmployeeId, "employee_id", violations);
        if (string.IsNullOrWhiteSpace(request.DisplayName))
        {
            violations.Add(("display_name", "display_name is required"));
        }

        if (!Names.IsValidEmail(request.Email.Trim()))
        {
            violations.Add(("email", $"'{request.Email}' is not an email address"));
        }

        if (request.OrgUnitId.Length > 0)
        {
            CheckId(request.OrgUnitId, "org_unit_id", violations);
        }

        if (request.ManagerId.Length > 0)
        {
            CheckId(request.ManagerId, "manager_id", violations);
        }

        if (request.Roles.Any(r => r == Role.Unspecified || !System.Enum.IsDefined(r)))
        {
            violations.Add(("roles", "a role is unspecified or unknown"));
        }

        ThrowIfAny(violations);
        var desired = new Employee(request.EmployeeId, request.DisplayName.Trim(), request.Email.Trim(), request.OrgUnitId, request.ManagerId,
            [.. request.Roles], request.Active);
        return await store.WriteAsync(nameof(UpsertEmployee), request.IdempotencyKey, UpsertEmployeeResponse.Parser, async write =>
        {
            var plan = DirectorySync.PlanEmployee(await write.LoadAsync(context.CancellationToken), desired, write.Now);
            await ApplyAsync(write, plan, context.CancellationToken);
            return new UpsertEmployeeResponse { Employee = plan.Next.Employees[desired.Id].ToSnapshot(), Changed = plan.Changes.Count > 0 };
        }, context.CancellationToken);
    }

    public override async Task<ImportDirectoryResponse> ImportDirectory(IAsyncStreamReader<ImportDirectoryRequest> requestStream, ServerCallContext context)
    {
        ImportOptions? importOptions = null;
        var unitRows = new List<ImportOrgUnitRow>();
        var employeeRows = new List<ImportEmployeeRow>();
        // The whole sync is planned at once, so its rows are held: bounded, or a huge stream would take the service's memory.
        var maxBytes = options.Value.MaxImportBytes;
        long bytes = 0;
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            if (importOptions is null)
            {
                importOptions = request.Options ?? throw RpcErrors.InvalidArgument(
                    "The first message of an import carries its options.", ("options", "options are required in the first message"));
            }
            else if (request.Options is not null)
            {
                throw RpcErrors.InvalidArgument("Only the first message of an import carries options; nothing was applied.",
                    ("options", "options are allowed in the first message only"));
            }

            bytes += request.CalculateSize();
            if (bytes > maxBytes)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted,
                    $"The import is larger than the limit of {maxBytes} bytes of rows (Directory:MaxImportBytes); nothing was applied."));
            }

            unitRows.AddRange(request.OrgUnits);
            employeeRows.AddRange(request.Employees);
        }

        if (importOptions is null)
        {
            throw RpcErrors.InvalidArgument("An import needs at least one message.", ("options", "options are required in the first message"));
        }

        var violations = new List<(string, string)>();
        if (!importOptions.DryRun)
        {
            RequireKey(importOptions.IdempotencyKey, violations, "options.idempotency_key");
        }

        ThrowIfAny(violations);
        var maxShare = options.Value.MaxDeactivatedShare;
        var key = importOptions.DryRun ? null : importOptions.IdempotencyKey;
        return await store.WriteAsync(nameof(ImportDirectory), key, ImportDirectoryResponse.Parser, async write =>
        {
            var result = DirectoryImport.Plan(await write.LoadAsync(context.CancellationToken), unitRows, employeeRows, write.Now);
            if (result.Plan is not { } plan)
            {
                var listed = result.Errors.Count > MaxViolations ? $" (the first {MaxViolations} are listed)" : "";
                throw RpcErrors.InvalidArgument(
                    $"The import has {result.Errors.Count} error(s){listed}; nothing was applied. First: {result.Errors[0].Field}: {result.Errors[0].Description}",
                    result.Errors.Take(MaxViolations).Select(e => (e.Field, e.Description)));
            }

            var massChanges = plan.MassChanges(maxShare);
            if (massChanges.Count > 0 && !importOptions.DryRun && !importOptions.Force)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"The import would {string.Join(" and ", massChanges)}, more than the limit of {maxShare:P0} each; nothing was applied. " +
                    "Check the file, then force the import if it is right."));
            }

            if (!importOptions.DryRun)
            {
                await write.ApplyAsync(plan.Changes, context.CancellationToken);
            }

            var response = new ImportDirectoryResponse
            {
                Applied = !importOptions.DryRun,
                ActiveBefore = plan.ActiveBefore,
                Deactivated = plan.Deactivated,
                DeactivatedShare = plan.DeactivatedShare,
                MaxDeactivatedShare = maxShare,
                ExceedsDeactivationLimit = plan.ExceedsDeactivationLimit(maxShare),
                RolesChanged = plan.RolesChanged,
                ManagersChanged = plan.ManagersChanged,
                ExceedsChangeLimit = massChanges.Count > 0,
            };
            response.Changes.AddRange(plan.Changes.Select(c => new DirectoryChange { Kind = c.Kind, Id = c.Id, Description = c.Description }));
            return response;
        }, context.CancellationToken);
    }

    public override async Task<ExportEmployeeDataResponse> ExportEmployeeData(ExportEmployeeDataRequest request, ServerCallContext context)
    {
        var caller = context.Caller();
        RequireId(request.EmployeeId, "employee_id");
        if (!string.Equals(caller.Subject, request.EmployeeId, StringComparison.Ordinal) && !caller.IsInAnyRole(Writers))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Only the person themselves, hr, operator or a service may export a person's data."));
        }

        var data = await queries.PersonalDataAsync(request.EmployeeId, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Employee '{request.EmployeeId}' does not exist."));
        var response = new ExportEmployeeDataResponse
        {
            Employee = data.Employee.ToSnapshot(),
            ScimUserName = data.ScimUserName,
            ScimExternalId = data.ScimExternalId,
            Erased = data.Employee.Erased,
            ExportedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        };
        response.History.AddRange(data.History.Select(h => new EmployeeVersion
        {
            Employee = h.Version.ToSnapshot(),
            ValidFrom = Timestamp.FromDateTimeOffset(h.ValidFrom),
            ValidTo = h.ValidTo is { } to ? Timestamp.FromDateTimeOffset(to) : null,
        }));
        return response;
    }

    public override async Task<EraseEmployeeResponse> EraseEmployee(EraseEmployeeRequest request, ServerCallContext context)
    {
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        CheckId(request.EmployeeId, "employee_id", violations);
        ThrowIfAny(violations);
        return await store.WriteAsync(nameof(EraseEmployee), request.IdempotencyKey, EraseEmployeeResponse.Parser, async write =>
        {
            var employee = await write.LoadEmployeeAsync(request.EmployeeId, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"Employee '{request.EmployeeId}' does not exist."));
            if (employee.Active)
            {
                throw new RpcException(new Status(StatusCode.FailedPrecondition,
                    $"Employee '{request.EmployeeId}' is active: only a leaver's personal data can be erased."));
            }

            var erased = employee.Erased ? employee : await write.EraseAsync(employee, context.CancellationToken);
            return new EraseEmployeeResponse { EmployeeId = erased.Id, Version = erased.Version };
        }, context.CancellationToken);
    }

    public override async Task StreamDirectorySnapshot(StreamDirectorySnapshotRequest request, IServerStreamWriter<StreamDirectorySnapshotResponse> responseStream,
        ServerCallContext context)
    {
        context.Caller();
        foreach (var unit in DirectoryState.ParentsFirst(await queries.UnitsAsync(null, context.CancellationToken)))
        {
            await responseStream.WriteAsync(new StreamDirectorySnapshotResponse { OrgUnit = unit.ToSnapshot() });
        }

        await foreach (var employee in queries.AllEmployeesAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(new StreamDirectorySnapshotResponse { Employee = employee.ToSnapshot() });
        }
    }

    public override async Task<RepublishDirectoryResponse> RepublishDirectory(RepublishDirectoryRequest request, ServerCallContext context)
    {
        var violations = new List<(string, string)>();
        RequireKey(request.IdempotencyKey, violations);
        ThrowIfAny(violations);
        var ct = context.CancellationToken;
        // Under the directory's write lock, so the snapshots are one consistent state.
        return await store.WriteAsync(nameof(RepublishDirectory), request.IdempotencyKey, RepublishDirectoryResponse.Parser, async write =>
        {
            var response = new RepublishDirectoryResponse();
            var events = new List<OutgoingEvent>();
            foreach (var unit in DirectoryState.ParentsFirst(await queries.UnitsAsync(null, ct)))
            {
                events.Add(new OutgoingEvent(unit.Id, new OrgUnitChanged { OrgUnit = unit.ToSnapshot() }));
                response.OrgUnits++;
            }

            await foreach (var employee in queries.AllEmployeesAsync(ct))
            {
                events.Add(new OutgoingEvent(employee.Id, employee.Erased
                    ? new EmployeeErased { EmployeeId = employee.Id, Version = employee.Version }
                    : new EmployeeUpdated { Employee = employee.ToSnapshot() }));
                response.Employees++;
                response.ErasedEmployees += employee.Erased ? 1 : 0;
                if (events.Count >= RepublishBatch)
                {
                    await write.EnqueueAsync(events, ct);
                    events.Clear();
                }
            }

            await write.EnqueueAsync(events, ct);
            return response;
        }, ct);
    }

    /// <summary>Applies a single-entity plan, or refuses it naming the fields of the rules it breaks.</summary>
    internal static async Task ApplyAsync(DirectoryWrite write, SyncPlan plan, CancellationToken cancellationToken)
    {
        if (plan.Violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument(string.Join("; ", plan.Violations.Select(v => v.Description)),
                plan.Violations.Select(v => (v.Field, v.Description)));
        }

        await write.ApplyAsync(plan.Changes, cancellationToken);
    }

    private static DateTimeOffset? AsOf(Timestamp? asOf) => asOf?.ToDateTimeOffset();

    private static string At(Timestamp? asOf) => asOf is null ? "" : $" at {asOf.ToDateTimeOffset():O}";

    private static void RequireId(string id, string field)
    {
        if (!Names.IsValidId(id))
        {
            throw RpcErrors.InvalidArgument($"{field} is required.", (field, $"'{id}' is not a valid id"));
        }
    }

    private static void CheckId(string id, string field, List<(string, string)> violations)
    {
        if (!Names.IsValidId(id))
        {
            violations.Add((field, string.IsNullOrEmpty(id) ? $"{field} is required" : $"'{id}' is not a valid id (letters, digits, . _ @ -)"));
        }
    }

    private static void RequireKey(string key, List<(string, string)> violations, string field = "idempotency_key")
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > 200)
        {
            violations.Add((field, "an idempotency key (1 to 200 characters) is required"));
        }
    }

    /// <summary>Where a search page ends: the last person's lower-case name and id, opaque to callers.</summary>
    private static class SearchToken
    {
        public static string Write(string sortName, string id) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{sortName}\n{id}"));

        public static (string, string)? Read(string token)
        {
            try
            {
                var text = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(token));
                // Ids never hold a line break; names may.
                var split = text.LastIndexOf('\n');
                return split >= 0 && Names.IsValidId(text[(split + 1)..]) ? (text[..split], text[(split + 1)..]) : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }
    }

    private static void ThrowIfAny(List<(string Field, string Description)> violations)
    {
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument(string.Join("; ", violations.Select(v => v.Description)), violations);
        }
    }
}
