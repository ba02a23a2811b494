using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage;

namespace Aitbc.Coordinator.Data;

/// <summary>Names for hand-written SQL, taken from the model (as the migrations name them), delimited for the database at hand.</summary>
internal sealed class ModelSql
{
    private readonly ISqlGenerationHelper _sql;
    private readonly StoreObjectIdentifier _table;

    private ModelSql(ISqlGenerationHelper sql, IEntityType entity, StoreObjectIdentifier table)
    {
        _sql = sql;
        Entity = entity;
        _table = table;
        Table = sql.DelimitIdentifier(table.Name, table.Schema);
    }

    public IEntityType Entity { get; }

    public string Table { get; }

    public static ModelSql For<TEntity>(DbContext db)
    {
        var entity = db.Model.FindEntityType(typeof(TEntity)) ?? throw new InvalidOperationException($"{typeof(TEntity).Name} is not in the model");
        return new ModelSql(db.GetService<ISqlGenerationHelper>(), entity, StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema()));
    }

    public string Column(IProperty property) => _sql.DelimitIdentifier(property.GetColumnName(_table)!);

    public string Column(string property) => Column(Entity.FindProperty(property)!);
}
