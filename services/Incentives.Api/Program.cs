using Transformation.Incentives.Api;

var builder = WebApplication.CreateBuilder(args);
builder.AddIncentivesService();
var app = builder.Build();
app.MapIncentivesService();
app.Run();

public partial class Program;
