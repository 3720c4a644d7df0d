app-name = Почта
skip-to-content = Перейти к содержимому
footer = Почта — единый почтовый домен для всех площадок
nav-label = Главное меню
nav-dashboard = Обзор
nav-users = Пользователи
nav-groups = Псевдонимы и списки
nav-sites = Площадки
nav-dns = DNS
nav-history = Журнал
nav-import = Импорт
nav-logins = Входы
nav-me = Моя учётная запись
lang-switch = Язык
logout = Выйти
cancel = Отмена
save = Сохранить
copy = Скопировать
delete-button = Удалить
error-title = Что-то пошло не так
error-title-not-found = Страница не найдена
error-title-forbidden = Нет доступа
error-title-bad-request = Неверный адрес страницы
error-status = Код ответа HTTP: { $status }
error-home = На главную страницу
pager-label = Страницы
pager-first = Первая
pager-prev = Предыдущая
pager-next = Следующая
pager-last = Последняя
pager-position = Страница { $page } из { $pages }
password-rules = Не меньше { $min } символов, не только буквы и не только цифры.
password-rules-optional = Необязательно. Не меньше { $min } символов, не только буквы и не только цифры. Без пароля пользователь пока не сможет войти.
ago-just-now = только что
ago-seconds = { $count ->
    [one] { $count } секунду назад
    [few] { $count } секунды назад
   *[many] { $count } секунд назад
}
ago-minutes = { $count ->
    [one] { $count } минуту назад
    [few] { $count } минуты назад
   *[many] { $count } минут назад
}
ago-hours = { $count ->
    [one] { $count } час назад
    [few] { $count } часа назад
   *[many] { $count } часов назад
}
ago-days = { $count ->
    [one] { $count } день назад
    [few] { $count } дня назад
   *[many] { $count } дней назад
}
dur-seconds = { $count } с
dur-minutes = { $count } мин
dur-hours = { $hours } ч { $minutes } мин

# Размеры — в двоичных кратных (1 МБ = 1024 КБ), как считаются квоты почты.
size-bytes = { $size } Б
size-kb = { $size } КБ
size-mb = { $size } МБ
size-gb = { $size } ГБ
size-tb = { $size } ТБ
unit-mb = МБ
unit-gb = ГБ
usage-of = { $used } из { $quota }
usage-unlimited = { $used } (без ограничения)
usage-unknown-of = данных пока нет (квота { $quota })
usage-unknown = данных пока нет
quota-unlimited = без ограничения
quota-site-default = квота площадки по умолчанию

mailbox-title = Почтовый ящик
mailbox-usage = Почтовый ящик
mailbox-quota = Квота
mailbox-quota-unit = Единица
mailbox-quota-hint = Оставьте пустым, чтобы действовала квота площадки ({ $quota }).
mailbox-quota-hint-none = Оставьте пустым, чтобы действовала квота площадки (без ограничения).
mailbox-forward = Пересылка
mailbox-forward-to = Пересылать почту на адреса (по одному в строке)
mailbox-forward-hint = Не больше { $max } адресов, в нашем домене или внешних. Чтобы отключить пересылку, очистите поле.
mailbox-forward-off = выключена
mailbox-keep-copy = Оставлять копию в этом ящике
mailbox-vacation = Автоответ на время отсутствия
mailbox-vacation-on = Отправлять автоответ
mailbox-vacation-start = С какого дня
mailbox-vacation-end = По какой день
mailbox-vacation-dates-hint = Дни по UTC. Без начальной даты автоответ включается сразу, без конечной — работает, пока его не выключат.
mailbox-vacation-subject = Тема
mailbox-vacation-text = Текст
mailbox-vacation-days = Отвечать одному отправителю не чаще раза в (дней)
mailbox-vacation-days-hint = От 1 до 365 дней; если не указать — 7.
mailbox-vacation-is-on = включён
mailbox-vacation-off = выключен
mailbox-save = Сохранить настройки ящика

client-title = Настройка почтовой программы
client-none = Серверы этой площадки ещё не сообщили свои адреса, поэтому показать настройки пока нельзя. Обратитесь к администратору.
client-intro = Имя пользователя: { $address }, пароль — ваш обычный или пароль приложения (см. ниже). Выберите один сервер входящей почты (IMAP или POP3) и сервер исходящей (SMTP).
client-col-protocol = Протокол
client-col-server = Сервер
client-col-port = Порт
client-col-security = Защита соединения
client-imap = IMAP (входящая)
client-pop3 = POP3 (входящая)
client-smtp = SMTP (исходящая)
client-tls = SSL/TLS
client-starttls = STARTTLS
tz-title = Часовой пояс
tz-now = Время показывается по поясу { $zone }.
tz-zone = Часовой пояс
tz-hint = Название пояса, например Europe/Moscow или Asia/Yekaterinburg; запоминается в этом браузере.
tz-save = Сохранить
err-time-zone = «{ $zone }» — неизвестный часовой пояс; выберите его из списка (например, Europe/Moscow).
password-show = Показать
password-hide = Скрыть
password-generate = Создать пароль

apps-title = Пароли приложений
apps-intro = Отдельный пароль для каждой почтовой программы — на телефоне, ноутбуке, планшете. Он заменяет пароль учётной записи для IMAP, POP3 и SMTP, а если устройство потеряно, достаточно отозвать только его пароль.
apps-none = Паролей приложений пока нет.
apps-label = Название
apps-created = Создан
apps-actions = Действия
apps-revoke = Отозвать
apps-revoke-named = Отозвать пароль приложения «{ $label }»
apps-new-label = Название нового пароля приложения
apps-new-hint = Где вы будете им пользоваться, например «Телефон» или «Thunderbird дома».
apps-create = Создать пароль приложения
apps-made = Пароль приложения «{ $label }» создан. Укажите его в почтовой программе вместо пароля учётной записи:
apps-made-once = Он показан только один раз. Скопируйте его сейчас; если он потеряется, отзовите его и создайте новый.
